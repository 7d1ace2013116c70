/**
 * migrate: 2,000 routers (Juniper's per-conductor sizing) moved between two SSR simulators on loopback
 * by the real command (in-process CLI, real HTTP, the PCLI bridge as a real command per router, real
 * key files gated on the new master). Baseline: the time the configured rate alone imposes
 * (routers / rate). Reported: total wall time as a ratio to that, the achieved start rate as a ratio
 * to the configured one (target within 10 %, as for re-authentication), and the time per router from
 * its migrate command to Running (simulator delays: 200 ms pending + 200 ms connected).
 * Every router costs one PCLI command, a real process (the real PCLI is one too); that cost, measured
 * in the same run, is printed beside the rates, since it bounds what a 2-core machine can sustain.
 * `MIGRATE_BENCH_ROUTERS` and `MIGRATE_BENCH_RATE` override the defaults (2000, 10/s).
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parse } from 'yaml';
import { main } from '../../conductor-agent/cli/main.js';
import { splitCommandLine, systemProcessRunner } from '../../shared/ports/process-runner.js';
import type { MigrateReport } from '../../conductor-agent/migrate/types.js';
import { memoryIo } from '../helpers/cli.js';
import { makeMigrateWorld } from '../helpers/migrate-world.js';
import type { BenchResult } from './run.js';

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
};

export async function run(): Promise<BenchResult[]> {
  const routers = Number(process.env.MIGRATE_BENCH_ROUTERS ?? 2000);
  const rate = Number(process.env.MIGRATE_BENCH_RATE ?? 10);
  const w = await makeMigrateWorld({
    routers,
    delays: { pendingMs: 200, connectedMs: 200 },
    migrate: { rate, concurrency: 200, pollMs: 250, connectedTimeoutSeconds: 120, runningTimeoutSeconds: 120 },
  });
  try {
    const pcli = [
      ...splitCommandLine(
        (parse(readFileSync(w.configFile, 'utf8')) as { ssr: { pcliCommand: string } }).ssr.pcliCommand,
      ),
      'show',
      'nothing',
    ];
    const costs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      await systemProcessRunner.run(pcli);
      costs.push(performance.now() - t);
    }
    const io = memoryIo({});
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const t0 = performance.now();
    const code = await main(['--root', w.oldRoot, '--json', 'migrate', '--to', w.to.join(',')], io);
    const totalS = (performance.now() - t0) / 1000;
    lag.disable();
    if (process.env.MIGRATE_BENCH_DEBUG) {
      console.error(
        `event-loop delay: p50 ${lag.percentile(50) / 1e6} ms, p99 ${lag.percentile(99) / 1e6} ms, max ${lag.max / 1e6} ms`,
      );
      console.error(
        io
          .err()
          .split('\n')
          .filter((l) => !/router r\d+/.test(l))
          .slice(-40)
          .join('\n'),
      );
    }
    const report = JSON.parse(io.out()) as MigrateReport;
    if (code !== 0) throw new Error(`migrate exited ${code}: ${io.err().slice(-2000)}`);
    const per = report.routers.map((r) => r.timings.totalMs ?? 0);
    const ideal = routers / rate;
    const achieved = report.rate.achieved ?? 0;
    return [
      {
        name: 'migrate',
        measure: `${routers} routers, total wall time vs routers/rate`,
        value: totalS,
        unit: 's',
        baseline: ideal,
        ratio: totalS / ideal,
        target: '≤ 1.10× routers/rate',
        pass: totalS / ideal <= 1.1,
      },
      {
        name: 'migrate',
        measure: 'achieved start rate vs configured',
        value: achieved,
        unit: 'routers/s',
        baseline: rate,
        ratio: achieved / rate,
        target: 'within 10 % of the configured rate',
        pass: Math.abs(1 - achieved / rate) <= 0.1,
      },
      {
        name: 'migrate',
        measure: 'time per router, migrate → Running (median)',
        value: pct(per, 0.5),
        unit: 'ms',
        target: 'informational (simulator delays 400 ms)',
        pass: true,
      },
      {
        name: 'migrate',
        measure: 'time per router, migrate → Running (p95)',
        value: pct(per, 0.95),
        unit: 'ms',
        target: 'informational',
        pass: true,
      },
      {
        name: 'migrate',
        measure: 'one PCLI command (bridge process), median of 20, same run',
        value: pct(costs, 0.5),
        unit: 'ms',
        target: 'informational',
        pass: true,
      },
    ];
  } finally {
    await w.close();
  }
}
