import { type Command, Option } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { ExitRequest, printResult } from '../../../shared/cli/run.js';
import { ExitCode } from '../../../shared/exit-codes.js';
import { UsageError } from '../../../shared/errors.js';
import { createLogger, isLogLevel } from '../../../shared/log/logger.js';
import { globalOptions } from '../context.js';

/** `conductor-agent drill`: the disaster-recovery drill on an embedded sandbox (DESIGN.md "The main job"). */
export function register(program: Command, io: CliIo): void {
  program
    .command('drill')
    .description(
      'run the disaster-recovery drill on an embedded sandbox: back up, lose the conductor, restore, re-key, re-authenticate every router, verify',
    )
    .addOption(
      new Option('--routers <n>', 'simulated routers').default(3).argParser((v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > 200)
          throw new UsageError('--routers must be a whole number from 1 to 200');
        return n;
      }),
    )
    .addOption(
      new Option('--rate <n>', 're-authentications started per second in the wave (0 = no limit)')
        .default(5)
        .argParser((v) => {
          const n = Number(v.replace(/\/s$/, ''));
          if (!Number.isFinite(n) || n < 0 || n > 10_000)
            throw new UsageError('--rate must be a number of re-authentications per second from 0 to 10000');
          return n;
        }),
    )
    .option('--sandbox <dir>', 'sandbox folder (default: a new temp folder)')
    .option('--keep', 'keep the sandbox afterwards (logs, archives, keys) for inspection', false)
    .option('--host <addr>', 'loopback address of the sandbox conductor', '127.0.0.2')
    .addOption(
      new Option(
        '--scenario <name>',
        'recovery (back up, lose, restore, re-authenticate) or migrate (move to the next address, .3; --ha adds .4)',
      )
        .choices(['recovery', 'migrate'])
        .default('recovery'),
    )
    .option('--ha', 'migrate scenario: the new conductor is an HA pair', false)
    .addHelpText(
      'after',
      '\nThe sandbox lives under a temp folder and loopback addresses only; it never touches --root or this host.\nExit status: 0 when every step passed, 1 otherwise.',
    )
    .action(
      async (
        opts: {
          routers: number;
          rate: number;
          sandbox?: string;
          keep: boolean;
          host: string;
          scenario: string;
          ha: boolean;
        },
        cmd: Command,
      ) => {
        const g = globalOptions(cmd);
        if (g.logLevel !== undefined && !isLogLevel(g.logLevel))
          throw new UsageError('--log-level must be one of debug, info, warn, error, silent');
        if (!/^127\.\d+\.\d+\.\d+$/.test(opts.host))
          throw new UsageError('--host must be a loopback address (127.x.y.z): the drill only runs on this machine');
        const logger = createLogger({
          level: (g.logLevel as 'debug' | undefined) ?? 'silent',
          write: io.stderr,
          bindings: { agent: 'conductor-agent', component: 'drill' },
        });
        const { runDrill } = await import('../../drill/run.js');
        const { renderDrill } = await import('../../drill/render.js');
        const common = {
          routers: opts.routers,
          rate: opts.rate,
          sandbox: opts.sandbox,
          keep: opts.keep,
          host: opts.host,
          logger,
          onProgress: g.json ? undefined : (line: string) => io.stderr(`${line}\n`),
        };
        const report =
          opts.scenario === 'migrate'
            ? await (await import('../../drill/migrate.js')).runMigrateDrill({ ...common, ha: opts.ha })
            : await runDrill(common);
        printResult(io, g.json, report, () => renderDrill(report));
        if (!report.ok) throw new ExitRequest(ExitCode.FAILED);
      },
    );
}
