import type { Command } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { notImplemented } from '../../../shared/cli/not-implemented.js';
import { commandContext } from '../context.js';

/** `conductor-agent drill`: run the disaster-recovery drill on an embedded sandbox */
export function register(program: Command, io: CliIo): void {
  program
    .command('drill')
    .description('run the disaster-recovery drill on an embedded sandbox')
    .action((_opts: unknown, cmd: Command) => {
      commandContext(cmd, io);
      notImplemented('conductor-agent drill');
    });
}
