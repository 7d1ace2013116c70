/**
 * Records router-agent enrollments heard on salt-api `/events` (tag `ssr-recovery/router-agent/enroll`)
 * in the registry. Only genuine minion events count (`cmd: _minion_event`, id set by the master from
 * the minion's authenticated key); a changed key is held for operator approval by the registry.
 */
import type { Logger } from '../../shared/log/logger.js';
import { parseEnrollEvent } from '../../shared/protocol/enroll.js';
import type { AgentRegistry, EnrollResult } from './store.js';

/** The part of a salt-api event this needs (SaltEvent from conductor-agent/saltapi has it as `raw`). */
export interface RawEventLike {
  tag: string;
  data: unknown;
}

export interface EnrollListenerOptions {
  registry: AgentRegistry;
  logger: Logger;
  /** Called after each recorded enrollment (fleet view, tests). */
  onEnrolled?: (minionId: string, result: EnrollResult) => void;
}

/** Handle one event; resolves with the outcome, or undefined when the event is not an enrollment. */
export async function handleEnrollEvent(ev: RawEventLike, o: EnrollListenerOptions): Promise<EnrollResult | undefined> {
  const e = parseEnrollEvent(ev.tag, ev.data);
  if (!e) return undefined;
  try {
    const result = await o.registry.enroll(e.minionId, e.payload.agentPublicKey, { source: 'salt-event', agentVersion: e.payload.agentVersion });
    const log = result === 'pending-approval' ? o.logger.warn : o.logger.info;
    log.call(o.logger, result === 'pending-approval' ? 'router agent announced a new key: operator approval needed (conductor-agent fleet --approve)' : 'router agent enrolled', {
      router: e.minionId, result,
    });
    o.onEnrolled?.(e.minionId, result);
    return result;
  } catch (err) {
    o.logger.warn('ignored an enrollment event', { router: e.minionId, err });
    return undefined;
  }
}

/** Consume an event stream until it ends (or `signal` aborts). */
export async function runEnrollListener(events: AsyncIterable<{ raw: RawEventLike } | RawEventLike>, o: EnrollListenerOptions): Promise<void> {
  // Not awaited one by one: the registry coalesces a burst of enrollments into one write.
  const inFlight = new Set<Promise<unknown>>();
  for await (const ev of events) {
    const raw = 'raw' in ev ? ev.raw : ev;
    const p = handleEnrollEvent(raw, o).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
}
