/**
 * After a master restart, ping the minions until every expected one has answered or the deadline
 * passes. A minion that answers the restarted master has authenticated against its current key
 * (the publish is encrypted with a session key only an authenticated minion holds), so "answered"
 * means "follows the new key".
 */
import type { Clock } from '../../shared/ports/clock.js';
import type { Logger } from '../../shared/log/logger.js';
import type { MinionProbe } from './minion-probe.js';

export interface WaitOptions {
  probe: MinionProbe;
  clock: Clock;
  /** Give up after this long. */
  waitMs: number;
  /** Pause between rounds (each round is itself a salt-api call with its own timeout). */
  pollMs?: number;
  logger?: Logger;
}

export interface WaitResult {
  answered: string[];
  missing: string[];
  waitedMs: number;
}

/** Wait for `ids` to answer; never throws for minions that stay silent (they are reported). */
export async function waitForMinions(ids: readonly string[], options: WaitOptions): Promise<WaitResult> {
  const start = options.clock.now();
  const pollMs = options.pollMs ?? 5000;
  const answered = new Set<string>();
  let remaining = [...ids];
  for (;;) {
    try {
      for (const id of await options.probe.ping(remaining)) answered.add(id);
    } catch (err) {
      // The master or salt-api may still be starting: that is a reason to wait, not to fail.
      options.logger?.debug('ping round failed', { error: (err as Error).message });
    }
    remaining = remaining.filter((id) => !answered.has(id));
    const elapsed = options.clock.now() - start;
    if (remaining.length === 0 || elapsed >= options.waitMs) break;
    options.logger?.info('waiting for minions', { missing: remaining.length });
    await options.clock.sleep(Math.min(pollMs, options.waitMs - elapsed));
  }
  return { answered: ids.filter((id) => answered.has(id)), missing: remaining, waitedMs: options.clock.now() - start };
}
