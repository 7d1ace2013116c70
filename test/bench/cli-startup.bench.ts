/**
 * conductor-agent CLI start-up (issue 10: "CLI start-up counts"): `--version`, `--help` and
 * `backup list` on an empty backup folder, each against bare `node -e 0` measured in the same run,
 * runs interleaved so load on the machine hits every command alike. Reports the median and the
 * best of N (wall time) and the median CPU time (user + system of the child) beside it.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './run.js';

const BIN = fileURLToPath(new URL('../../dist/conductor-agent/bin.js', import.meta.url));
const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 21);
/** Another build's bin.js (e.g. the previous commit's dist) to measure before/after in the same run. */
const COMPARE = process.env.BENCH_STARTUP_COMPARE;

interface Sample {
  wall: number;
  cpu: number;
}

/** One run under GNU time (`-o` keeps its figures apart from the command's own stderr). */
function once(args: string[], timeFile: string): Sample {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-o', timeFile, '-f', '%U %S', process.execPath, ...args], { stdio: 'ignore' });
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${String(r.status)}`);
  const [user, sys] = readFileSync(timeFile, 'utf8').trim().split(/\s+/).map(Number);
  return { wall, cpu: ((user ?? NaN) + (sys ?? NaN)) * 1000 };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

export async function run(): Promise<BenchResult[]> {
  const root = mkdtempSync(join(tmpdir(), 'startup-bench-'));
  mkdirSync(join(root, 'var/log/128technology'), { recursive: true });
  const cases: Record<string, string[]> = {
    'node -e 0': ['-e', '0'],
    '--version': [BIN, '--version'],
    '--help': [BIN, '--help'],
    'backup list (empty)': [BIN, 'backup', 'list', '--json', '--root', root],
    ...(COMPARE
      ? {
          '--version (compared build)': [COMPARE, '--version'],
          '--help (compared build)': [COMPARE, '--help'],
          'backup list (empty, compared build)': [COMPARE, 'backup', 'list', '--json', '--root', root],
        }
      : {}),
  };
  const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  try {
    const timeFile = join(root, 'time.out');
    for (const args of Object.values(cases)) once(args, timeFile); // warm the page cache
    for (let i = 0; i < RUNS; i++)
      for (const [name, args] of Object.entries(cases)) samples[name]!.push(once(args, timeFile));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const base = median(samples['node -e 0']!.map((s) => s.wall));
  const baseBest = Math.min(...samples['node -e 0']!.map((s) => s.wall));
  const baseCpu = median(samples['node -e 0']!.map((s) => s.cpu));
  const out: BenchResult[] = [];
  for (const name of Object.keys(cases).filter((n) => n !== 'node -e 0')) {
    const walls = samples[name]!.map((s) => s.wall);
    const med = median(walls);
    const best = Math.min(...walls);
    const cpu = median(samples[name]!.map((s) => s.cpu));
    out.push({
      name: `conductor-agent ${name}`,
      measure:
        `start-up wall, median of ${RUNS} (best ${best.toFixed(0)} vs ${baseBest.toFixed(0)} ms; ` +
        `CPU median ${cpu.toFixed(0)} vs ${baseCpu.toFixed(0)} ms)`,
      value: med,
      unit: 'ms',
      baseline: base,
      ratio: med / base,
      target: 'informational: ratio to bare node',
      pass: true,
    });
  }
  return out;
}
