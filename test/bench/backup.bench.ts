/**
 * `npm run bench -- backup`: `conductor-agent backup create` (the real CLI process, SHA-256
 * manifest included) against GNU `tar -czf` and `tar -I pigz -cf` (what an operator who cares
 * about speed uses; Debian `pigz`, installed with apt-get when missing and we are root) of the same
 * files, measured in the same run on the benchmark conductor (≈205 MB running config, 10,000
 * minion keys, 2,000 states). Target (issue 10) ≤ 1.0× of `tar -I pigz -cf`; both ratios are printed,
 * with CPU time beside wall time.
 *
 * The tree is generated once into `.bench/backup/conductor` (git-ignored) and reused. Each side runs
 * once to warm the page cache, then `ROUNDS` times alternating; the medians are compared.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchOptions, makeConductorTree } from '../../sandbox/conductor-tree.js';
import { createBackup } from '../../conductor-agent/backup/run.js';
import { conductorSchema } from '../../shared/config/schema.js';
import type { BenchResult } from './run.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const cache = join(repo, '.bench/backup');
const root = join(cache, 'conductor');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

/** The same file set the backup plan takes on this tree, relative to the root, for tar. */
const TAR_PATHS = [
  'etc/128technology/salt/pki/master',
  'etc/128technology/global.init',
  'etc/128technology/local.init',
  'var/lib/128technology/t128-running.json',
  'var/lib/128technology/user-running.json',
  'etc/128technology/config-exports',
  'srv/salt',
  'srv/pillar',
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** CPU seconds (user + system) of this process's waited-for children, from /proc (Linux). */
function childCpu(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8')
    .replace(/^.*\) /, '')
    .split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100; // cutime + cstime, in USER_HZ (100)
}

interface Timing {
  wall: number;
  cpu: number;
}

function timed(argv: string[], cwd?: string): Timing {
  const c0 = childCpu();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), {
    cwd,
    encoding: 'utf8',
    maxBuffer: 16 << 20,
    env: { ...process.env, SSR_RECOVERY_LOG_LEVEL: 'silent' },
  });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { wall, cpu: childCpu() - c0 };
}

/** `pigz` on PATH, installing Debian's package when it is missing (root only); false when unavailable. */
function ensurePigz(): boolean {
  const has = (): boolean => spawnSync('pigz', ['--version'], { encoding: 'utf8' }).status === 0;
  if (has()) return true;
  if (process.getuid?.() !== 0) {
    console.error('pigz is missing: install it (apt-get install pigz) for the tar -I pigz -cf baseline');
    return false;
  }
  console.error('installing pigz for the tar -I pigz -cf baseline…');
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  try {
    execFileSync('apt-get', [...lock, 'install', '-y', '--no-install-recommends', 'pigz'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch {
    execFileSync('apt-get', [...lock, 'update'], { stdio: 'inherit' });
    execFileSync('apt-get', [...lock, 'install', '-y', '--no-install-recommends', 'pigz'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  return has();
}

export async function run(): Promise<BenchResult[]> {
  const pigz = ensurePigz();
  if (!existsSync(join(root, '.complete'))) {
    console.error(`generating the benchmark conductor in ${root} (once)…`);
    rmSync(root, { recursive: true, force: true });
    await makeConductorTree(root, benchOptions);
    writeFileSync(join(root, '.complete'), 'ok\n');
  }
  const out = join(cache, 'out');
  const ours = join(root, 'var/log/128technology'); // backup.dir, excluded from the backup itself
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(ours)) rmSync(join(ours, f), { recursive: true });
  const dist = join(repo, 'dist/conductor-agent/bin.js');
  const cliArgv = existsSync(dist)
    ? [process.execPath, dist]
    : [process.execPath, '--import', 'tsx', join(repo, 'conductor-agent/bin.ts')];
  const backupCreate = (): Timing => {
    const s = timed([...cliArgv, 'backup', 'create', '--root', root, '--no-offbox', '--json']);
    for (const f of readdirSync(ours)) rmSync(join(ours, f));
    return s;
  };
  const tarCzf = (): Timing => {
    const s = timed(['tar', '-czf', join(out, 'tar.tar.gz'), ...TAR_PATHS], root);
    rmSync(join(out, 'tar.tar.gz'));
    return s;
  };
  const tarPigz = (): Timing => {
    const s = timed(['tar', '-I', 'pigz', '-cf', join(out, 'pigz.tar.gz'), ...TAR_PATHS], root);
    rmSync(join(out, 'pigz.tar.gz'));
    return s;
  };
  // The library call alone (no process start, no config load): the engine's own speed.
  const config = conductorSchema.parse({});
  const library = async (): Promise<number> => {
    const t0 = process.hrtime.bigint();
    await createBackup({ config, root, offbox: false });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    for (const f of readdirSync(ours)) rmSync(join(ours, f));
    return s;
  };
  backupCreate();
  tarCzf();
  if (pigz) tarPigz();
  await library();
  const a: Timing[] = [];
  const b: Timing[] = [];
  const p: Timing[] = [];
  const c: number[] = [];
  const load = loadavg()[0]!;
  for (let i = 0; i < ROUNDS; i++) {
    a.push(backupCreate());
    b.push(tarCzf());
    if (pigz) p.push(tarPigz());
    c.push(await library());
  }
  const value = median(a.map((x) => x.wall));
  const baseline = median(b.map((x) => x.wall));
  const cpu = median(a.map((x) => x.cpu));
  const cpuBase = median(b.map((x) => x.cpu));
  const fmt = (xs: Timing[]) => xs.map((x) => `${x.wall.toFixed(2)}/${x.cpu.toFixed(2)}`).join(' ');
  const pigzResults: BenchResult[] = [];
  if (p.length) {
    const pw = median(p.map((x) => x.wall));
    const pc = median(p.map((x) => x.cpu));
    console.error(`wall/cpu s — tar -I pigz -cf: ${fmt(p)}`);
    pigzResults.push(
      {
        name: 'backup-vs-pigz',
        measure:
          'conductor-agent backup create (CLI process, SHA-256 manifest) vs tar -I pigz -cf, same files, median wall time',
        value,
        unit: 's',
        baseline: pw,
        ratio: value / pw,
        target: '≤ 1.0× (issue 10)',
        pass: value / pw <= 1.0,
      },
      {
        name: 'backup-cpu-vs-pigz',
        measure: 'same runs, median CPU time (user+system) vs tar -I pigz -cf',
        value: cpu,
        unit: 's',
        baseline: pc,
        ratio: cpu / pc,
        target: 'informational',
        pass: true,
      },
    );
  }
  console.error(
    `wall/cpu s — backup create: ${fmt(a)}; tar -czf: ${fmt(b)}; createBackup() wall: ${c.map((x) => x.toFixed(2)).join(' ')}; load average before: ${load.toFixed(2)} on ${cpus().length} cpus`,
  );
  return [
    {
      name: 'backup',
      measure:
        'conductor-agent backup create (CLI process, SHA-256 manifest) vs GNU tar -czf, same files, median wall time',
      value,
      unit: 's',
      baseline,
      ratio: value / baseline,
      target: '≤ 1.0×',
      pass: value / baseline <= 1.0,
    },
    {
      name: 'backup-library',
      measure:
        'createBackup() in-process (no process start or config load) vs the same tar -czf runs, median wall time',
      value: median(c),
      unit: 's',
      baseline,
      ratio: median(c) / baseline,
      target: '≤ 1.0× (informational)',
      pass: median(c) / baseline <= 1.0,
    },
    {
      name: 'backup-cpu',
      measure: 'same runs, median CPU time (user+system of the process tree); what decides wall time on a busy machine',
      value: cpu,
      unit: 's',
      baseline: cpuBase,
      ratio: cpu / cpuBase,
      target: '≤ 1.0× (informational)',
      pass: cpu / cpuBase <= 1.0,
    },
    ...pigzResults,
  ];
}
