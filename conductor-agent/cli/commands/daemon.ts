/**
 * `conductor-agent daemon`: run the long-lived services (scheduled backups; other parts add
 * theirs through `startDaemon({services})`) until SIGTERM/SIGINT. Logs at the configured level.
 */
import type { Command } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { ExitRequest } from '../../../shared/cli/run.js';
import { commandContext } from '../context.js';

/** `conductor-agent daemon`: run the conductor-agent daemon (scheduled backups, router agents) */
export function register(program: Command, io: CliIo): void {
  program
    .command('daemon')
    .description('run the conductor-agent daemon (scheduled backups, router agents)')
    .option('--shutdown-deadline <ms>', 'time allowed for an orderly stop', (v) => Number(v), 15_000)
    .action(async (opts: { shutdownDeadline: number }, cmd: Command) => {
      const ctx = commandContext(cmd, io, { defaultLogLevel: 'config' });
      const { startDaemon } = await import('../../daemon/main.js');
      const handle = await startDaemon({
        loaded: ctx.loaded,
        logger: ctx.logger,
        lifecycle: { deadlineMs: opts.shutdownDeadline },
      });
      if (ctx.opts.json)
        io.stdout(`${JSON.stringify({ ok: true, event: 'ready', pid: process.pid, services: handle.services })}\n`);
      const code = await handle.done;
      if (code !== 0) throw new ExitRequest(code);
    });
}
