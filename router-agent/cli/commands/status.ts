/** `router-agent status`: the minion's trust state from its files and log, with the facts behind it. */
import type { Command } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { printResult } from '../../../shared/cli/run.js';
import { routerContext } from '../context.js';

export async function statusAction(cmd: Command, io: CliIo): Promise<void> {
  const ctx = await routerContext(cmd, io);
  const { resolveRouterFacts } = await import('../../facts.js');
  const { TrustWatcher } = await import('../../trust/watch.js');
  const { JournalStore } = await import('../../reauth/journal.js');
  const { systemClock } = await import('../../../shared/ports/clock.js');
  const facts = resolveRouterFacts(ctx.loaded);
  const watcher = new TrustWatcher({
    minionId: facts.minionId,
    config: facts.config,
    pkiDir: facts.pkiDir,
    logFile: facts.logFile,
    service: facts.service,
    clock: systemClock,
    logger: ctx.logger,
    pollMs: 1000,
  });
  const trust = await watcher.start();
  watcher.stop();
  const journal = new JournalStore(facts.stateDir);
  // What an operator compares with `conductor-agent fleet` before `fleet --approve --fingerprint`.
  const agentKeyFingerprint = await agentKeyFingerprintOf(facts.stateDir);
  const result = {
    ok: true,
    trust,
    agentKeyFingerprint,
    interruptedRun: (await journal.read()) ?? null,
    lastRun: (await journal.readLast()) ?? null,
    conductors: facts.conductorUrls,
    channel: facts.pinProblem ?? 'enabled',
  };
  printResult(io, ctx.opts.json, result, () =>
    [
      `minion ${trust.minionId}: ${trust.state}${trust.minionActive ? '' : ' (minion not running)'}`,
      `  cached master key: ${trust.cachedFingerprint ?? 'none'}`,
      `  pinned (master_finger): ${trust.pinnedFingerprint ?? 'none'}`,
      ...(result.interruptedRun
        ? [`  an interrupted ${result.interruptedRun.action} will be finished when the daemon starts`]
        : []),
      ...(result.lastRun
        ? [`  last re-authentication ${result.lastRun.id}: ${result.lastRun.ok ? 'ok' : 'failed'} (rollback available)`]
        : []),
      `  agent channel: ${result.channel}`,
      `  agent key: ${agentKeyFingerprint ?? 'none yet (created when the daemon starts)'}`,
      ...(trust.evidence.length ? ['  minion log:', ...trust.evidence.map((l) => `    ${l}`)] : []),
    ].join('\n'),
  );
}

async function agentKeyFingerprintOf(stateDir: string): Promise<string | null> {
  const { readFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { AGENT_PUB_FILE } = await import('../../agent-key.js');
  const { keyFingerprint } = await import('../../../shared/protocol/signing-keys.js');
  try {
    return keyFingerprint(await readFile(join(stateDir, AGENT_PUB_FILE), 'utf8'));
  } catch {
    return null;
  }
}
