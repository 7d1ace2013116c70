/**
 * `npm run bench -- restore`: restoring the large benchmark conductor (≈205 MB running config,
 * 10,000 minion keys, 2,000 states) onto a rebuilt conductor, against GNU `tar -xzf` of the same
 * archive, measured in the same run, interleaved in rotating order, best of rounds (medians printed). Target (DESIGN.md): ≤ 1.2×
 * including verification (manifest hashes, sidecar, key pair, JSON datastores, plan, journal,
 * apply, post-verify). The tree and archive are generated once into the git-ignored `.bench/`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBackup } from '../../conductor-agent/backup/run.js';
import { restoreConductor } from '../../conductor-agent/restore/index.js';
import { conductorSchema } from '../../shared/config/schema.js';
import { benchOptions, makeConductorTree } from '../../sandbox/conductor-tree.js';
import { fakeService, rebuiltTarget } from '../integration/restore-support.js';
import type { BenchResult } from './run.js';

const BENCH = fileURLToPath(new URL('../../.bench/restore/', import.meta.url));
const TREE = join(BENCH, 'tree');
const ARCHIVES = '/archives';
const ROUNDS = Number(process.env.RESTORE_BENCH_ROUNDS ?? 5);

async function prepare(): Promise<string> {
  if (!existsSync(join(BENCH, 'tree.complete'))) {
    rmSync(BENCH, { recursive: true, force: true });
    mkdirSync(BENCH, { recursive: true });
    console.error('restore bench: generating the benchmark conductor (once)…');
    await makeConductorTree(TREE, benchOptions);
    writeFileSync(join(BENCH, 'tree.complete'), '');
  }
  const dir = join(TREE, ARCHIVES);
  const existing = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.tar.gz')) : [];
  if (existing[0]) return join(dir, existing[0]);
  console.error('restore bench: writing the benchmark archive with createBackup (once)…');
  return (await createBackup({ config: conductorSchema.parse({}), root: TREE, hostname: 'bench', dir: ARCHIVES }))
    .archive;
}

// Best of N for both sides: on a shared machine interference only ever slows a run down, so the
// fastest run is the closest to what each side costs; the medians are printed too.
const best = (xs: number[]): number => Math.min(...xs);

/** CPU seconds (user + system) of this process (all its threads) and of its waited-for children (Linux). */
function cpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8')
    .replace(/^.*\) /, '')
    .split(' ');
  const children = (Number(fields[13]) + Number(fields[14])) / 100; // cutime + cstime, USER_HZ = 100
  const own = process.cpuUsage();
  return (own.user + own.system) / 1e6 + children;
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(): Promise<BenchResult[]> {
  const archive = await prepare();
  const config = conductorSchema.parse({ restore: { postVerifyTimeoutMs: 0 } });
  const tarTimes: number[] = [];
  const ourTimes: number[] = [];
  const noFlushTimes: number[] = [];
  const cpu = new Map<number[], number[]>([
    [tarTimes, []],
    [ourTimes, []],
    [noFlushTimes, []],
  ]);
  const stepsOfBest = new Map<number[], unknown>();
  // A run's output is moved aside, not deleted, before the next run and removed after the last:
  // on ext4 without a journal (this machine's root) a file created within a minute of 12,000
  // deletions in its inode group makes the allocator skip every recently freed inode
  // (`recently_deleted`), which slowed each side's file creation by up to 5× in the run right
  // after its own clean-up (tar -xzf measured 6-8 s instead of 1.1 s).
  const TRASH = join(BENCH, 'trash');
  rmSync(TRASH, { recursive: true, force: true });
  mkdirSync(TRASH, { recursive: true });
  let moved = 0;
  const fresh = (name: string): string => {
    const d = join(BENCH, name);
    if (existsSync(d)) renameSync(d, join(TRASH, `${name}-${moved++}`));
    return d;
  };
  const tarOnce = (): void => {
    const t = fresh('tar-x');
    mkdirSync(t, { recursive: true });
    execFileSync('sync');
    const c0 = cpuSeconds();
    const t0 = performance.now();
    execFileSync('tar', ['-xzf', archive, '-C', t]);
    tarTimes.push(performance.now() - t0);
    cpu.get(tarTimes)!.push(cpuSeconds() - c0);
  };
  const restoreOnce = async (times: number[], flush?: () => Promise<void>): Promise<void> => {
    const r = fresh('restored');
    rebuiltTarget(TREE, r);
    execFileSync('sync');
    const c0 = cpuSeconds();
    const t0 = performance.now();
    const report = await restoreConductor({
      archive,
      root: r,
      config,
      ports: { services: [fakeService()], ...(flush ? { flush } : {}) },
    });
    const ms = performance.now() - t0;
    times.push(ms);
    cpu.get(times)!.push(cpuSeconds() - c0);
    if (!report.ok) throw new Error('restore failed in the benchmark');
    if (ms <= Math.min(...times)) stepsOfBest.set(times, report.timings);
  };
  // Rotate the order every round: on a shared machine, whoever runs right after a big write pays
  // for its writeback.
  const steps = [tarOnce, () => restoreOnce(ourTimes), () => restoreOnce(noFlushTimes, async () => undefined)];
  for (let i = 0; i < ROUNDS; i++) {
    for (let k = 0; k < steps.length; k++) await steps[(i + k) % steps.length]!();
  }
  rmSync(join(BENCH, 'tar-x'), { recursive: true, force: true });
  rmSync(join(BENCH, 'restored'), { recursive: true, force: true });
  rmSync(TRASH, { recursive: true, force: true });
  const base = best(tarTimes) / 1000;
  const ours = best(ourTimes) / 1000;
  const noFlush = best(noFlushTimes) / 1000;
  console.error(
    `restore bench steps of the best runs (ms): with flush ${JSON.stringify(stepsOfBest.get(ourTimes))}, without ${JSON.stringify(stepsOfBest.get(noFlushTimes))}`,
  );
  console.error(
    `restore bench medians: tar -xzf ${(median(tarTimes) / 1000).toFixed(2)} s, restore ${(median(ourTimes) / 1000).toFixed(2)} s, without flush ${(median(noFlushTimes) / 1000).toFixed(2)} s (ratio ${(median(ourTimes) / median(tarTimes)).toFixed(2)}×)`,
  );
  const cpuMedian = (xs: number[]): number => median(cpu.get(xs)!);
  console.error(
    `restore bench CPU s (user+system, median): tar -xzf ${cpuMedian(tarTimes).toFixed(2)}, restore ${cpuMedian(ourTimes).toFixed(2)}, without flush ${cpuMedian(noFlushTimes).toFixed(2)}`,
  );
  return [
    {
      name: 'restore-cpu',
      measure: 'the restore runs (with flush), median CPU time (user+system, all threads and children) vs tar -xzf',
      value: cpuMedian(ourTimes),
      unit: 's',
      baseline: cpuMedian(tarTimes),
      ratio: cpuMedian(ourTimes) / cpuMedian(tarTimes),
      target: 'informational',
      pass: true,
    },
    {
      name: 'restore',
      measure:
        'restoreConductor (preflight, staging, hashes, key pair, JSON, plan, journal, apply, sync -f, post-verify) vs tar -xzf',
      value: ours,
      unit: 's',
      baseline: base,
      ratio: ours / base,
      target: '≤ 1.2×',
      pass: ours / base <= 1.2,
    },
    {
      name: 'restore-no-flush',
      measure: 'the same without the durability flush (tar -xzf does not sync either)',
      value: noFlush,
      unit: 's',
      baseline: base,
      ratio: noFlush / base,
      target: '≤ 1.2×',
      pass: noFlush / base <= 1.2,
    },
  ];
}
