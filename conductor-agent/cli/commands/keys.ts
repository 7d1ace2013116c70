import type { Command } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { notImplemented } from '../../../shared/cli/not-implemented.js';
import { commandContext } from '../context.js';

/** `conductor-agent keys`: Salt master key lifecycle: status, fingerprint, enable-signing, rotate, accept */
export function register(program: Command, io: CliIo): void {
  program
    .command('keys')
    .description('Salt master key lifecycle: status, fingerprint, enable-signing, rotate, accept')
    .action((_opts: unknown, cmd: Command) => {
      commandContext(cmd, io);
      notImplemented('conductor-agent keys');
    });
}
