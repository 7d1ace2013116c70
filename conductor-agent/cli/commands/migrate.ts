import { type Command, Option } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { ExitRequest, printResult } from '../../../shared/cli/run.js';
import { UsageError } from '../../../shared/errors.js';
import { ExitCode } from '../../../shared/exit-codes.js';
import { commandContext } from '../context.js';

/** `--to a,b` and `--to a --to b` both mean [a, b]. */
const list = (v: string, prev?: string[]): string[] => [
  ...(prev ?? []),
  ...v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

function parseRate(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec(v.trim());
  const n = m ? Number(m[1]) : NaN;
  if (!Number.isFinite(n) || n <= 0) {
    throw new UsageError(`--rate must be a positive number of routers per second, like 5/s (got ${v})`);
  }
  return n;
}

interface MigrateOpts {
  to?: string[];
  from?: string[];
  routers?: string;
  rate?: number;
  dryRun?: boolean;
  resume?: boolean;
  rollbackOnFailure?: boolean;
}

const HELP = `
Runs on the OLD conductor. Steps: preflight (both APIs, addresses, versions, no conflicting config on the
new conductor, ports 930/4505/4506 on it, Salt trust, a fresh verified backup) → export + SFTP + import +
commit of the configuration with conductor-address set to --to → per router: PCLI \`migrate force conductor
<to> router <r>\`, Connected then Running on the new conductor, its minion key through the verified gate →
verify. A journal makes it resumable (--resume, or a plain re-run with the same arguments).

Exit status: 0 all routers on the new conductor and verified; 1 failed; 2 usage; 3 config; 4 refused by
preflight (nothing changed); 5 some routers failed (see the report); 6 another run or journal; 7 verify failed.
See docs/migrate.md.`;

/** `conductor-agent migrate`: move the routers to a new conductor (new IP), resumable and verified. */
export function register(program: Command, io: CliIo): void {
  program
    .command('migrate')
    .description('migrate routers to a new conductor (new IP): config import + commit, migrate per router, verify')
    .addOption(new Option('--to <addr[,addr2]>', 'the new conductor address(es); two for an HA pair').argParser(list))
    .addOption(
      new Option('--from <addr[,addr2]>', 'the old conductor address(es) (default: global.init)').argParser(list),
    )
    .option('--routers <glob>', 'only routers whose name matches (* and ?)')
    .addOption(new Option('--rate <N/s>', 'routers started per second (default migrate.rate)').argParser(parseRate))
    .option('--dry-run', 'run the preflight and show the plan and config diff; change nothing')
    .option('--resume', 'continue the run recorded in the journal')
    .option('--rollback-on-failure', 'migrate a router that fails back to the old conductor')
    .addHelpText('after', HELP)
    .action(async (opts: MigrateOpts, cmd: Command) => {
      const ctx = commandContext(cmd, io);
      if (!opts.to?.length) throw new UsageError('--to is required (the new conductor address, or two for an HA pair)');
      const { hostsFromGlobalInit } = await import('../../verify/run.js');
      const from = opts.from?.length ? opts.from : await hostsFromGlobalInit(ctx.loaded.path);
      const args = {
        to: opts.to,
        from,
        routers: opts.routers,
        rate: opts.rate ?? ctx.config.migrate.rate,
        dryRun: Boolean(opts.dryRun),
        resume: Boolean(opts.resume),
        rollbackOnFailure: Boolean(opts.rollbackOnFailure),
      };
      const { migrateDepsFromConfig } = await import('../../migrate/from-config.js');
      const { runMigrate } = await import('../../migrate/run.js');
      const { renderMigrate } = await import('../../migrate/render.js');
      const deps = await migrateDepsFromConfig(ctx, args);
      deps.onStep = (s) => io.stderr(`migrate: ${s}\n`);
      deps.onRouter = (r, done, total) =>
        io.stderr(
          `  [${done}/${total}] ${r.router}: ${r.outcome}` +
            `${r.error ? ` (${r.error.code}: ${r.error.message})` : ''}\n`,
        );
      let report;
      try {
        report = await runMigrate(deps);
      } finally {
        await deps.files.close();
      }
      printResult(io, ctx.opts.json, report, () => renderMigrate(report));
      throw exitFor(report);
    });
}

function exitFor(r: import('../../migrate/types.js').MigrateReport): ExitRequest {
  if (r.findings.some((f) => !f.ok)) return new ExitRequest(ExitCode.PREFLIGHT_REFUSED);
  if (r.dryRun) return new ExitRequest(ExitCode.OK);
  const good = r.totals.migrated + r.totals.skipped;
  if (r.totals.failed + r.totals.rolledBack > 0) return new ExitRequest(good > 0 ? ExitCode.PARTIAL : ExitCode.FAILED);
  if (r.verify?.some((c) => c.status === 'fail')) return new ExitRequest(ExitCode.VERIFY_FAILED);
  return new ExitRequest(ExitCode.OK);
}
