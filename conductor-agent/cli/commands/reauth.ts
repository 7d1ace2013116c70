import type { Command } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { ExitRequest, printResult } from '../../../shared/cli/run.js';
import { ErrorCodes, UsageError, type ErrorCode } from '../../../shared/errors.js';
import { commandContext } from '../context.js';

/**
 * `conductor-agent reauth --router ID`: through the running daemon, send that router's agent one
 * signed `reauth` command pinning the fingerprint of the current master.pub, and wait for its
 * signed report (`--rollback` undoes the last one). Exit 0 when the router confirms, else the
 * router's failure code's exit (evidence in the report).
 */
export function register(program: Command, io: CliIo): void {
  program
    .command('reauth')
    .description('re-authenticate a router to the current Salt master key through its agent')
    .option('--router <id>', 'the router (minion id)')
    .option('--rollback', 'undo the router\'s last re-authentication instead')
    .option('--timeout <ms>', 'how long the router waits for its minion (ms)', (v) => Number(v))
    .action(async (opts: { router?: string; rollback?: boolean; timeout?: number }, cmd: Command) => {
      const ctx = commandContext(cmd, io);
      if (!opts.router) throw new UsageError('--router is required (the fleet-wide re-authentication is a separate command)');
      if (opts.timeout !== undefined && (!Number.isFinite(opts.timeout) || opts.timeout <= 0)) throw new UsageError('--timeout must be a positive number of milliseconds');
      const { controlRequest } = await import('../../ws/control.js');
      const { controlSocketPath } = await import('../../ws/service.js');
      const routerTimeout = opts.timeout ?? Math.max(1000, ctx.config.agents.commandTimeoutMs - 30_000);
      const result = await controlRequest<import('../../reauth/single.js').ReauthRouterResult>(
        controlSocketPath(ctx.config, ctx.loaded.path), 'reauth',
        { router: opts.router, action: opts.rollback ? 'rollback' : 'reauth', timeoutMs: routerTimeout }, routerTimeout + 60_000,
      );
      printResult(io, ctx.opts.json, result, () => {
        const o = result.outcome;
        const lines = [`${result.action} ${result.routerId}: ${result.ok ? 'ok' : `FAILED (${o.code ?? 'unknown'})`}`];
        if (result.fingerprint) lines.push(`  fingerprint: ${result.fingerprint}`);
        if (o.message) lines.push(`  ${o.message}`);
        lines.push(`  timings (ms): ${Object.entries(o.timings).map(([k, v]) => `${k}=${v}`).join(' ')}`);
        if (!result.ok && o.evidence.length) lines.push('  minion log:', ...o.evidence.map((l) => `    ${l}`));
        return lines.join('\n');
      });
      if (!result.ok) {
        const code = (result.outcome.code && result.outcome.code in ErrorCodes ? result.outcome.code : 'REAUTH_FAILED') as ErrorCode;
        throw new ExitRequest(ErrorCodes[code].exit);
      }
    });
}
