import { type Command, Option } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { ExitRequest, printResult } from '../../../shared/cli/run.js';
import { ExitCode } from '../../../shared/exit-codes.js';
import { commandContext } from '../context.js';

const list = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** `conductor-agent verify`: the seed's "Verify Migration" as checks with a verdict. */
export function register(program: Command, io: CliIo): void {
  program
    .command('verify')
    .description('verify a conductor: ports 930/4505/4506 reachable, routers Connected then Running, minions answer')
    .addOption(
      new Option('--host <addr...>', 'conductor address(es) to probe (default: conductor hosts in global.init)'),
    )
    .addOption(
      new Option(
        '--conductor <addr[,addr2]>',
        'verify the conductor at this address (after migrate): its ports, its API (migrate.to.ssrUrl), its salt-api (migrate.to.saltApiUrl)',
      ).argParser(list),
    )
    .addOption(
      new Option('--ports <list>', 'comma-separated ports (default verify.ports: 930,4505,4506)').argParser(list),
    )
    .option('--router <name...>', 'routers that must be Running (default: every asset)')
    .option('--minion <id...>', 'minion ids that must answer test.ping (default: all)')
    .addOption(new Option('--timeout <seconds>', 'how long to wait for routers to reach Running').argParser(Number))
    .addHelpText('after', '\nExit status: 0 when every check passed or was skipped, 7 when a check failed.')
    .action(
      async (
        opts: {
          host?: string[];
          conductor?: string[];
          ports?: string[];
          router?: string[];
          minion?: string[];
          timeout?: number;
        },
        cmd: Command,
      ) => {
        const ctx = commandContext(cmd, io);
        const { runVerify, renderChecks } = await import('../../verify/run.js');
        const { systemClock } = await import('../../../shared/ports/clock.js');
        const { ssrFromConfig, minionPingFromConfig } = await import('../../verify/from-config.js');
        const target = opts.conductor?.[0];
        const fromMigrate = target ? await import('../../migrate/from-config.js') : undefined;
        const ssr = fromMigrate && target ? await fromMigrate.newSsrFromConfig(ctx, target) : await ssrFromConfig(ctx);
        const ping =
          fromMigrate && target ? await fromMigrate.newPingFromConfig(ctx, target) : await minionPingFromConfig(ctx);
        const report = await runVerify({
          path: ctx.loaded.path,
          ports: opts.ports ? opts.ports.map(Number) : ctx.config.verify.ports,
          hosts: opts.conductor ?? opts.host ?? ctx.config.verify.hosts,
          ssr,
          ping,
          routers: opts.router,
          // After a migration every router node the new conductor lists must answer, not just those that do.
          minions: opts.minion ?? (target && ssr && ping ? await assetMinions(ssr, opts.router) : undefined),
          timeoutMs: (opts.timeout ?? ctx.config.verify.timeoutSeconds) * 1000,
          clock: systemClock,
          onAsset: (a) => {
            if (!ctx.opts.json) io.stderr(`  ${a.routerName}/${a.nodeName}: ${a.status}\n`);
          },
        });
        printResult(
          io,
          ctx.opts.json,
          report,
          () => `verify: ${report.ok ? 'ok' : 'FAILED'}\n${renderChecks(report.checks)}`,
        );
        if (!report.ok) throw new ExitRequest(ExitCode.VERIFY_FAILED);
      },
    );
}

/** The minion ids (asset ids) of the routers a conductor lists; an API failure leaves the default. */
async function assetMinions(
  ssr: import('../../ssr/conductor.js').SsrConductor,
  routers: string[] | undefined,
): Promise<string[] | undefined> {
  const assets = await ssr.assets().catch(() => undefined);
  if (!assets) return undefined;
  const ids = assets.filter((a) => !routers || routers.includes(a.routerName)).map((a) => a.assetId);
  return [...new Set(ids.filter(Boolean))];
}
