/**
 * The drill's `migrate` scenario (`conductor-agent drill --scenario migrate [--ha]`): the conductor
 * moves from 127.0.0.2 to 127.0.0.3 (an HA pair adds 127.0.0.4) and every router follows, verified.
 * Two SSR simulators share one router world (sandbox/ssr-simulator/pair.ts); the real `migrate` code
 * runs against them with its ports built from a configuration file exactly as on a conductor, then
 * `verify --conductor` checks the new one on its own.
 */
import { loadConfig } from '../../shared/config/load.js';
import { RecoveryError } from '../../shared/errors.js';
import { nullLogger, type Logger } from '../../shared/log/logger.js';
import { systemClock } from '../../shared/ports/clock.js';
import { startConductorPair, type ConductorPair } from '../../sandbox/ssr-simulator/pair.js';
import { migrateDepsFromConfig, newSsrFromConfig } from '../migrate/from-config.js';
import { runMigrate } from '../migrate/run.js';
import type { MigrateReport } from '../migrate/types.js';
import { runVerify } from '../verify/run.js';
import type { DrillReport } from './run.js';
import { runSteps, type Step } from './steps.js';

export interface MigrateDrillOptions {
  routers?: number;
  ha?: boolean;
  sandbox?: string | undefined;
  keep?: boolean;
  /** The old conductor's address (default 127.0.0.2); the new ones follow it (.3, .4). */
  host?: string;
  logger?: Logger;
  onProgress?: (line: string) => void;
}

interface Ctx {
  o: MigrateDrillOptions;
  pair?: ConductorPair;
  report?: MigrateReport;
}

const next = (addr: string, by: number): string => {
  const p = addr.split('.').map(Number);
  p[3] = (p[3] ?? 0) + by;
  return p.join('.');
};

function contextFor(pair: ConductorPair, logger: Logger) {
  const loaded = loadConfig({ agent: 'conductor-agent', root: pair.oldRoot, env: {}, overrides: {} });
  return {
    config: loaded.config,
    loaded,
    logger,
    io: { stdout: () => undefined, stderr: () => undefined, env: {}, isTTY: false },
  };
}

const steps: Step<Ctx>[] = [
  {
    name: 'sandbox',
    title: 'two conductors on loopback, every router on the old one',
    async run(ctx, facts) {
      const host = ctx.o.host ?? '127.0.0.2';
      ctx.pair = await startConductorPair({
        routers: ctx.o.routers ?? 3,
        ha: ctx.o.ha,
        dir: ctx.o.sandbox,
        keep: ctx.o.keep,
        addresses: { old: host, new: next(host, 1), new2: next(host, 2) },
        delays: { pendingMs: 300, connectedMs: 300 },
        migrate: { rate: 5, pollMs: 200, connectedTimeoutSeconds: 60, runningTimeoutSeconds: 60 },
      });
      Object.assign(facts, { old: host, new: ctx.pair.to.join(', '), routers: ctx.pair.routerNames.length });
    },
  },
  {
    name: 'migrate',
    title: 'conductor-agent migrate: preflight, config import + commit, migrate conductor per router',
    async run(ctx, facts) {
      const pair = ctx.pair!;
      const c = contextFor(pair, ctx.o.logger ?? nullLogger);
      const deps = await migrateDepsFromConfig(c, {
        to: pair.to,
        from: [ctx.o.host ?? '127.0.0.2'],
        rate: 5,
        dryRun: false,
        resume: false,
        rollbackOnFailure: true,
      });
      deps.onRouter = (r, n, total) => ctx.o.onProgress?.(`  [${n}/${total}] ${r.router}: ${r.outcome}`);
      ctx.report = await runMigrate(deps);
      await deps.files.close();
      const r = ctx.report;
      Object.assign(facts, { trust: r.trust?.mode, totals: r.totals, checks: r.verify ?? [] });
      const refused = r.findings.filter((f) => !f.ok);
      if (refused.length) {
        throw new RecoveryError('MIGRATE_PREFLIGHT', refused.map((f) => f.message).join('; '));
      }
      if (!r.ok) throw new RecoveryError('MIGRATE_PARTIAL', `migrate did not finish: ${JSON.stringify(r.totals)}`);
    },
  },
  {
    name: 'verify',
    title: 'verify --conductor: ports, every router Running on the new conductor',
    async run(ctx, facts) {
      const pair = ctx.pair!;
      const c = contextFor(pair, ctx.o.logger ?? nullLogger);
      const report = await runVerify({
        path: c.loaded.path,
        ports: c.config.verify.ports,
        hosts: pair.to,
        ssr: await newSsrFromConfig(c, pair.to[0]!),
        routers: pair.routerNames,
        timeoutMs: 30_000,
        pollMs: 200,
        clock: systemClock,
      });
      const following = [...pair.world.routers.values()].filter((r) => r.conductors.join() === pair.to.join()).length;
      Object.assign(facts, { checks: report.checks, followingNew: following });
      if (!report.ok || following !== pair.routerNames.length) {
        throw new RecoveryError('VERIFY_FAILED', 'the new conductor does not verify');
      }
    },
  },
];

/** Run the migrate scenario; like the recovery drill, a failed step is in the report, not thrown. */
export async function runMigrateDrill(o: MigrateDrillOptions = {}): Promise<DrillReport> {
  const started = Date.now();
  const ctx: Ctx = { o };
  let results;
  try {
    results = await runSteps(ctx, steps, {
      onProgress: (e) => {
        if (!o.onProgress) return;
        if (e.phase === 'start') o.onProgress(`… ${e.title}`);
        else {
          const s = ((e.result?.durationMs ?? 0) / 1000).toFixed(1);
          const why = e.result?.error ? `: ${e.result.error.message}` : '';
          o.onProgress(`${e.result?.status === 'ok' ? '✓' : '✗'} ${e.step} (${s} s)${why}`);
        }
      },
    });
  } finally {
    await ctx.pair?.close().catch(() => undefined);
  }
  return {
    ok: results.every((s) => s.status === 'ok'),
    sandbox: ctx.pair?.dir ?? o.sandbox ?? '',
    kept: Boolean(o.keep),
    steps: results,
    routers: (ctx.report?.routers ?? []).map((r) => ({ id: r.router, ...(r.error ? { error: r.error.message } : {}) })),
    durationMs: Date.now() - started,
  };
}
