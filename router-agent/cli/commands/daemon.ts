/**
 * `router-agent daemon`: run the agent until SIGTERM/SIGINT. One lifecycle path: a signal starts an
 * ordered stop with a deadline; a second signal exits at once. Prints one ready line (JSON with
 * `--json`) on stdout when the agent is up, which service managers and benchmarks wait for.
 */
import type { Command } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { routerContext } from '../context.js';

export interface DaemonRunOptions {
  /** Process-level hooks, injected for tests. */
  signals?: Pick<NodeJS.Process, 'on' | 'removeListener'>;
  exit?: (code: number) => void;
  stopDeadlineMs?: number;
}

export async function daemonAction(cmd: Command, io: CliIo, run: DaemonRunOptions = {}): Promise<void> {
  const ctx = await routerContext(cmd, io, 'config');
  const signals = run.signals ?? process;
  const exit = run.exit ?? ((code: number) => process.exit(code));
  // Handlers go in before anything else: a SIGTERM that lands between our ready line and a late
  // registration would otherwise kill the process with the default action.
  let agent: Awaited<ReturnType<typeof import('../../daemon/agent.js').startRouterAgent>> | undefined;
  let observe: import('../../observe.js').RouterObserve | undefined;
  let stopping = false;
  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((r) => {
    resolveStopped = r;
  });
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) {
      ctx.logger.warn('second signal: exiting now', { signal: sig });
      exit(130);
      return;
    }
    stopping = true;
    ctx.logger.info('stopping', { signal: sig });
    if (agent) void stop();
  };
  const stop = async (): Promise<void> => {
    const deadline = setTimeout(() => {
      ctx.logger.error('stop deadline passed: exiting');
      exit(1);
    }, run.stopDeadlineMs ?? 10_000);
    deadline.unref();
    await observe?.close();
    await agent?.stop().catch((err: unknown) => ctx.logger.error('stop failed', { err }));
    clearTimeout(deadline);
    signals.removeListener('SIGTERM', onSignal);
    signals.removeListener('SIGINT', onSignal);
    resolveStopped();
  };
  signals.on('SIGTERM', onSignal);
  signals.on('SIGINT', onSignal);
  try {
    const { resolveRouterFacts } = await import('../../facts.js');
    const { startRouterAgent } = await import('../../daemon/agent.js');
    const facts = resolveRouterFacts(ctx.loaded);
    const a = ctx.config.agent;
    agent = await startRouterAgent({
      facts,
      logger: ctx.logger,
      settings: {
        reauthTimeoutMs: a.reauthTimeoutMs,
        settleMs: a.settleMs,
        pollMs: a.pollMs,
        heartbeatMs: a.heartbeatMs,
        minionStopTimeoutMs: a.minionStopTimeoutMs,
      },
    });
    const listen = ctx.config.observe.listen;
    if (listen !== 'off')
      observe = await (await import('../../observe.js')).startRouterObserve(agent, listen, ctx.logger);
    const ready = {
      ready: true,
      metrics: observe?.url,
      minionId: agent.minionId,
      trust: agent.trust().state,
      agentKeyFingerprint: agent.agentKeyFingerprint,
      conductors: facts.conductorUrls,
      channel: facts.pinProblem ?? 'enabled',
    };
    io.stdout(
      ctx.opts.json
        ? `${JSON.stringify(ready)}\n`
        : `router-agent ready: minion ${ready.minionId}, trust ${ready.trust}, ${facts.conductorUrls.length} conductor(s)${facts.pinProblem ? ` (channel disabled: ${facts.pinProblem})` : ''}\n`,
    );
  } catch (err) {
    signals.removeListener('SIGTERM', onSignal);
    signals.removeListener('SIGINT', onSignal);
    throw err;
  }
  // Stay up until a signal even when nothing else holds the event loop (channel disabled: no
  // conductor link, and the trust poll timer is unref'd), or the service would exit 0 and loop.
  const keepAlive = setInterval(() => undefined, 2 ** 30);
  if (stopping) void stop(); // a signal arrived while starting
  await stopped;
  clearInterval(keepAlive);
}
