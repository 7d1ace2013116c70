import type { Command } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { notImplemented } from '../../../shared/cli/not-implemented.js';
import { commandContext } from '../context.js';

/** `conductor-agent restore`: restore a conductor from a backup (same IP) */
export function register(program: Command, io: CliIo): void {
  program
    .command('restore')
    .description('restore a conductor from a backup (same IP)')
    .action((_opts: unknown, cmd: Command) => {
      commandContext(cmd, io);
      notImplemented('conductor-agent restore');
    });
}
