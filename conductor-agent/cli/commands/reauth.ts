import type { Command } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { notImplemented } from '../../../shared/cli/not-implemented.js';
import { commandContext } from '../context.js';

/** `conductor-agent reauth`: re-authenticate routers to the current Salt master key */
export function register(program: Command, io: CliIo): void {
  program
    .command('reauth')
    .description('re-authenticate routers to the current Salt master key')
    .action((_opts: unknown, cmd: Command) => {
      commandContext(cmd, io);
      notImplemented('conductor-agent reauth');
    });
}
