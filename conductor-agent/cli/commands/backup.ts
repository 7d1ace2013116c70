import type { Command } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { notImplemented } from '../../../shared/cli/not-implemented.js';
import { commandContext } from '../context.js';

/** `conductor-agent backup`: create, list, verify and prune conductor backups */
export function register(program: Command, io: CliIo): void {
  program
    .command('backup')
    .description('create, list, verify and prune conductor backups')
    .action((_opts: unknown, cmd: Command) => {
      commandContext(cmd, io);
      notImplemented('conductor-agent backup');
    });
}
