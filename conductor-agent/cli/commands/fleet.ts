import type { Command } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { printResult } from '../../../shared/cli/run.js';
import { hasCode, UsageError } from '../../../shared/errors.js';
import { commandContext } from '../context.js';

/**
 * `conductor-agent fleet [--json]`: the live fleet view from the running daemon (router agents,
 * connection, enrollment, trust state, last report); the registry alone when the daemon is down.
 * `--approve ROUTER --fingerprint FP` approves a router's pending agent-key change: the fingerprint
 * (checked on the router, e.g. `router-agent status --json`) is required, so a key announced after
 * the operator looked is never approved by accident.
 */
export function register(program: Command, io: CliIo): void {
  program
    .command('fleet')
    .description('show the fleet view: router agents, trust state, last report')
    .option('--approve <router>', 'approve the pending (changed) agent key of this router')
    .option('--fingerprint <fp>', "with --approve (required): the new key's fingerprint, as checked on the router")
    .action(async (opts: { approve?: string; fingerprint?: string }, cmd: Command) => {
      const ctx = commandContext(cmd, io);
      const { controlRequest } = await import('../../ws/control.js');
      const { controlSocketPath, registryLockPath } = await import('../../ws/service.js');
      const { mergeFleet, renderFleet } = await import('../../ws/fleet-view.js');
      const { AgentRegistry } = await import('../../registry/store.js');
      const sock = controlSocketPath(ctx.config, ctx.loaded.path);
      const stateDir = ctx.loaded.path(ctx.config.agents.stateDir);
      if (opts.approve) {
        if (!opts.fingerprint) {
          const hint =
            'On the router: router-agent status --json (agentKeyFingerprint); ' +
            'here: conductor-agent fleet --json (pendingKey).';
          throw new UsageError(
            "fleet --approve needs --fingerprint FP: the new agent key's fingerprint, read on the router",
            { hint },
          );
        }
        const args = { router: opts.approve, fingerprint: opts.fingerprint };
        const entry = await controlRequest(sock, 'approve', args).catch(async (err: unknown) => {
          if (!hasCode(err, 'AGENT_DAEMON_UNREACHABLE')) throw err;
          const reg = await AgentRegistry.open(stateDir, { lockFile: registryLockPath(ctx.loaded.path) });
          return reg.approve(opts.approve!, opts.fingerprint!);
        });
        printResult(
          io,
          ctx.opts.json,
          { ok: true, approved: entry },
          () => `approved the new agent key of ${opts.approve}`,
        );
        return;
      }
      let daemon = true;
      const routers = await controlRequest<import('../../ws/fleet-view.js').FleetEntry[]>(
        sock,
        'fleet',
        {},
        30_000,
      ).catch(async (err: unknown) => {
        if (!hasCode(err, 'AGENT_DAEMON_UNREACHABLE')) throw err;
        daemon = false;
        return mergeFleet(
          [],
          (await AgentRegistry.open(stateDir, { lockFile: registryLockPath(ctx.loaded.path) })).list(),
        );
      });
      printResult(
        io,
        ctx.opts.json,
        { ok: true, daemon, routers },
        () =>
          (daemon ? '' : 'conductor-agent daemon not running: showing enrolled routers only\n') + renderFleet(routers),
      );
    });
}
