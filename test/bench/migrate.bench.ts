/**
 * migrate: 2,000 routers (Juniper's per-conductor sizing) moved between two SSR simulators on loopback
 * by the real command (in-process CLI, real HTTP, the PCLI bridge as a real command per router, real
 * key files gated on the new master). Baseline: the time the configured rate alone imposes
 * (routers / rate). Reported: total wall time as a ratio to that, the achieved start rate as a ratio
 * to the configured one (target within 10 %, as for re-authentication), and the time per router from
 * its migrate command to Running (simulator delays: 200 ms pending + 200 ms connected).
 * Every router costs one PCLI command, a real process (the real PCLI is one too); that cost, measured
 * in the same run, is printed beside the rates, since it bounds what a 2-core machine can sustain.
 * `MIGRATE_BENCH_ROUTERS` and `MIGRATE_BENCH_RATE` override the defaults (2000, 10/s);
 * `MIGRATE_BENCH_DEBUG=1` prints the end of the command's stderr. The event-loop delay of the run is
 * reported beside the rates: on a busy machine the shortfall shows up there first.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parse } from 'yaml';
import { main } from '../../conductor-agent/cli/main.js';
import { splitCommandLine, systemProcessRunner } from '../../shared/ports/process-runner.js';
import type { MigrateReport } from '../../conductor-agent/migrate/types.js';
import { memoryIo } from '../helpers/cli.js';
import { startConductorPair } from '../../sandbox/ssr-simulator/pair.js';
import type { BenchResult } from './run.js';

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
};

export async function run(): Promise<BenchResult[]> {
  const routers = Number(process.env.MIGRATE_BENCH_ROUTERS ?? 2000);
  const rate = Number(process.env.MIGRATE_BENCH_RATE ?? 10);
  const w = await startConductorPair({
    addresses: { old: '127.23.9.2', new: '127.23.9.3', new2: '127.23.9.4' },
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
    if (process.env.MIGRATE_BENCH_DEBUG) console.error(io.err().slice(-4000));
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
        // The CLI and the simulators share this process: a stall here delays starts (a start more than
        // 1 s late loses the difference) and every router's polls; a busy machine shows up here first.
        measure: 'event-loop delay during the run (p99)',
        value: lag.percentile(99) / 1e6,
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
