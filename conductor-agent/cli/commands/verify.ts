import type { Command } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { notImplemented } from '../../../shared/cli/not-implemented.js';
import { commandContext } from '../context.js';

/** `conductor-agent verify`: verify a conductor: ports 930/4505/4506, routers Connected then Running, minions answer */
export function register(program: Command, io: CliIo): void {
  program
    .command('verify')
    .description('verify a conductor: ports 930/4505/4506, routers Connected then Running, minions answer')
    .action((_opts: unknown, cmd: Command) => {
      commandContext(cmd, io);
      notImplemented('conductor-agent verify');
    });
}
