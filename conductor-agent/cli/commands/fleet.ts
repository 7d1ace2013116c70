import type { Command } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { notImplemented } from '../../../shared/cli/not-implemented.js';
import { commandContext } from '../context.js';

/** `conductor-agent fleet`: show the fleet view: router agents, trust state, last report */
export function register(program: Command, io: CliIo): void {
  program
    .command('fleet')
    .description('show the fleet view: router agents, trust state, last report')
    .action((_opts: unknown, cmd: Command) => {
      commandContext(cmd, io);
      notImplemented('conductor-agent fleet');
    });
}
