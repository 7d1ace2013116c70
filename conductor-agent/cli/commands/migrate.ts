import type { Command } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { notImplemented } from '../../../shared/cli/not-implemented.js';
import { commandContext } from '../context.js';

/** `conductor-agent migrate`: migrate routers to a new conductor (new IP) */
export function register(program: Command, io: CliIo): void {
  program
    .command('migrate')
    .description('migrate routers to a new conductor (new IP)')
    .action((_opts: unknown, cmd: Command) => {
      commandContext(cmd, io);
      notImplemented('conductor-agent migrate');
    });
}
