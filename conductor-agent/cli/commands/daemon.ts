import type { Command } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { notImplemented } from '../../../shared/cli/not-implemented.js';
import { commandContext } from '../context.js';

/** `conductor-agent daemon`: run the conductor-agent daemon (scheduled backups, router agents) */
export function register(program: Command, io: CliIo): void {
  program
    .command('daemon')
    .description('run the conductor-agent daemon (scheduled backups, router agents)')
    .action((_opts: unknown, cmd: Command) => {
      commandContext(cmd, io);
      notImplemented('conductor-agent daemon');
    });
}
