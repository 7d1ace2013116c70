/**
 * router-agent command line. Kept light: commander only at start, every command's implementation
 * imported lazily inside its action (start time is a benchmark target: < 150 ms).
 */
import { Command } from 'commander';
import { addGlobalOptions } from '../../shared/cli/global-options.js';
import { processIo, type CliIo } from '../../shared/cli/io.js';
import { runCli } from '../../shared/cli/run.js';
import { PRODUCT_VERSION } from '../../shared/version.js';

export function buildProgram(io: CliIo): Command {
  const program = new Command('router-agent')
    .description(
      "SSR router agent: watches the Salt minion's trust in the conductor's master key and re-authenticates it safely",
    )
    .version(PRODUCT_VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 failed, 2 usage, 3 config, 4 refused by preflight, 6 busy, 70 internal error. See README.md.',
    );
  addGlobalOptions(program);
  program
    .command('daemon')
    .description('run the router agent daemon')
    .action(async (_o: unknown, cmd: Command) => (await import('./commands/daemon.js')).daemonAction(cmd, io));
  program
    .command('status')
    .description("show the minion's trust state")
    .action(async (_o: unknown, cmd: Command) => (await import('./commands/status.js')).statusAction(cmd, io));
  program
    .command('reauth')
    .description('re-authenticate the minion to a pinned master fingerprint')
    .option('--fingerprint <fp>', "the new master key's Salt fingerprint (sha256, colon hex) to pin")
    .option('--rollback', 'restore the files the last re-authentication replaced')
    .option('--timeout <ms>', 'how long to wait for the minion to authenticate (ms)', (v) => Number(v))
    .option('--trust-first-master', 'DANGEROUS: trust whichever master answers first (no pin)')
    .action(async (flags: import('./commands/reauth.js').ReauthFlags, cmd: Command) =>
      (await import('./commands/reauth.js')).reauthAction(flags, cmd, io),
    );
  return program;
}

export function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  return runCli(buildProgram(io), argv, io);
}
