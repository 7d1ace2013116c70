/**
 * conductor-agent command line. Each command lives in `commands/<name>.ts` and registers itself;
 * heavy modules are imported lazily inside actions so `--help` stays fast. Errors map to exit codes
 * in one place (`shared/cli/run.ts`).
 */
import { Command } from 'commander';
import { addGlobalOptions } from '../../shared/cli/global-options.js';
import { processIo, type CliIo } from '../../shared/cli/io.js';
import { runCli } from '../../shared/cli/run.js';
import { PRODUCT_VERSION } from '../../shared/version.js';
import { register as backup } from './commands/backup.js';
import { register as restore } from './commands/restore.js';
import { register as keys } from './commands/keys.js';
import { register as daemon } from './commands/daemon.js';
import { register as fleet } from './commands/fleet.js';
import { register as reauth } from './commands/reauth.js';
import { register as migrate } from './commands/migrate.js';
import { register as verify } from './commands/verify.js';
import { register as drill } from './commands/drill.js';
import { prepareCommandContext } from './context.js';

export function buildProgram(io: CliIo): Command {
  const program = new Command('conductor-agent')
    .description('SSR conductor recovery: backups, restore, migration, Salt master keys, fleet re-authentication')
    .version(PRODUCT_VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 failed, 2 usage, 3 config, 4 refused by preflight, 5 partial fleet success,\n6 busy (lock/journal), 7 verification failed, 70 internal error. See README.md.',
    );
  addGlobalOptions(program);
  program.hook('preAction', prepareCommandContext); // the config loader only when a command runs
  for (const reg of [backup, restore, keys, daemon, fleet, reauth, migrate, verify, drill]) reg(program, io);
  return program;
}

/** Run the CLI in-process; returns the exit code. */
export function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  return runCli(buildProgram(io), argv, io);
}
