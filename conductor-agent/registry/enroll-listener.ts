/**
 * Records router-agent enrollments heard on salt-api `/events` (tag `ssr-recovery/router-agent/enroll`)
 * in the registry. The `id` and `cmd` beside an event prove nothing (a minion can send a batched
 * event the master fires verbatim: reference/salt.md §10), so an enrollment counts only when its
 * statement verifies with the minion key the master *accepted* (`<salt.pkiDir>/minions/<router>`,
 * never `minions_pre`), was issued within the allowed clock skew, and its nonce is new. Every refusal
 * is logged with its reason (no key material). A changed key is held for operator approval.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../shared/log/logger.js';
import { systemClock, type Clock } from '../../shared/ports/clock.js';
import {
  checkEnrollment,
  decodeEnrollment,
  loadMinionPublicKey,
  parseEnrollEvent,
  type EnrollEvent,
  type EnrollRefusal,
  type EnrollStatement,
} from '../../shared/protocol/enroll.js';
import { keyFingerprint, loadPublicKey } from '../../shared/protocol/signing-keys.js';
import type { AgentRegistry, EnrollResult } from './store.js';

/** The part of a salt-api event this needs (SaltEvent from conductor-agent/saltapi has it as `raw`). */
export interface RawEventLike {
  tag: string;
  data: unknown;
}

/** Default allowed difference between the router's and the conductor's clocks (5 min). */
export const DEFAULT_ENROLL_MAX_SKEW_MS = 300_000;

export interface EnrollListenerOptions {
  registry: AgentRegistry;
  logger: Logger;
  /** The master's pki folder (`salt.pkiDir` under `--root`): accepted minion keys are in `minions/`. */
  pkiDir: string;
  clock?: Pick<Clock, 'now'>;
  /** Allowed clock skew of a statement's `issuedAt` (default 5 min). */
  maxSkewMs?: number;
  /** Nonces seen (default: one window per listener). */
  nonces?: NonceWindow;
  /** Called after each recorded enrollment (fleet view, tests). */
  onEnrolled?: (minionId: string, result: EnrollResult) => void;
}

export type EnrollOutcome =
  | { router: string; result: EnrollResult }
  | { router: string | undefined; refused: EnrollRefusal; detail: string };

type Refused = { refused: EnrollRefusal; detail: string };
const unusable = (detail: string): Refused => ({ refused: 'minion-key-unusable', detail });

/**
 * Recently seen statement nonces. Bounded: when full, expired ones go first, then the oldest. Never
 * refusing because it is full matters (a minion signing statement after statement for its own id
 * must not lock every other router out); forgetting an old nonce is safe because the registry
 * also refuses any statement not newer than the last one it accepted for that router.
 */
export class NonceWindow {
  readonly #seen = new Map<string, number>();
  constructor(private readonly max = 50_000) {}

  get size(): number {
    return this.#seen.size;
  }

  /** False when `key` is live (a replay); otherwise remembers it until `until` (ms epoch). */
  remember(key: string, until: number, now: number): boolean {
    const live = this.#seen.get(key);
    if (live !== undefined && live > now) return false;
    this.#seen.delete(key);
    this.#seen.set(key, until);
    if (this.#seen.size > this.max) {
      for (const [k, t] of this.#seen) if (t <= now) this.#seen.delete(k);
      for (const k of this.#seen.keys()) {
        if (this.#seen.size <= this.max) break;
        this.#seen.delete(k);
      }
    }
    return true;
  }
}

/** The accepted minion key of `router`, or why there is none. */
async function acceptedMinionKey(
  pkiDir: string,
  router: string,
): Promise<{ key: import('node:crypto').KeyObject } | { refused: EnrollRefusal; detail: string }> {
  const file = join(pkiDir, 'minions', router);
  let text: string;
  try {
    const st = await fsp.lstat(file);
    if (!st.isFile()) return unusable('the accepted minion key is not a regular file');
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      return unusable(`cannot read the accepted minion key: ${(err as NodeJS.ErrnoException).code}`);
    }
    const pending = await fsp.lstat(join(pkiDir, 'minions_pre', router)).then(
      () => true,
      () => false,
    );
    return {
      refused: 'minion-key-not-accepted',
      detail: pending
        ? 'the minion key is pending, not accepted (salt-key -a / conductor-agent keys accept)'
        : 'the master has no accepted minion key for this router',
    };
  }
  const key = loadMinionPublicKey(text);
  return key ? { key } : unusable('the accepted minion key is not an RSA key of 2048 bits or more');
}

/** Check one announcement; the registry is not touched unless it verifies. */
async function verifyAnnouncement(
  ev: EnrollEvent,
  o: EnrollListenerOptions,
  nonces: NonceWindow,
): Promise<EnrollOutcome | { ok: EnrollStatement }> {
  const decoded = decodeEnrollment(ev);
  if (!decoded.ok) return { router: ev.eventId, refused: decoded.reason, detail: decoded.detail };
  const st = decoded.value.statement;
  const k = await acceptedMinionKey(o.pkiDir, st.router);
  if ('refused' in k) return { router: st.router, refused: k.refused, detail: k.detail };
  const clock = o.clock ?? systemClock;
  const skew = o.maxSkewMs ?? DEFAULT_ENROLL_MAX_SKEW_MS;
  const now = clock.now();
  const checked = checkEnrollment(decoded.value, k.key, now, skew);
  if (!checked.ok) return { router: st.router, refused: checked.reason, detail: checked.detail };
  try {
    loadPublicKey(st.agentPublicKey, 'agent key');
  } catch {
    return { router: st.router, refused: 'malformed', detail: 'the agent key in the statement is not Ed25519' };
  }
  if (!nonces.remember(`${st.router}\n${st.nonce}`, Math.max(st.issuedAt, now) + skew, now)) {
    return { router: st.router, refused: 'replayed', detail: 'this statement nonce was already used' };
  }
  return { ok: st };
}

/** Handle one event; resolves with the outcome, or undefined when the event is not an enrollment. */
export async function handleEnrollEvent(
  ev: RawEventLike,
  o: EnrollListenerOptions,
  nonces = o.nonces ?? defaultNonces(o),
): Promise<EnrollOutcome | undefined> {
  const e = parseEnrollEvent(ev.tag, ev.data);
  if (!e) return undefined;
  let outcome: EnrollOutcome;
  try {
    const v = await verifyAnnouncement(e, o, nonces);
    if ('ok' in v) {
      const st = v.ok;
      const result = await o.registry.enroll(st.router, st.agentPublicKey, {
        source: 'salt-event',
        agentVersion: st.agentVersion,
        issuedAt: st.issuedAt,
      });
      outcome =
        result === 'replayed'
          ? { router: st.router, refused: 'replayed', detail: 'not newer than the last statement accepted for it' }
          : { router: st.router, result };
      if ('result' in outcome) logEnrolled(o, st.router, result, st.agentPublicKey);
      if ('result' in outcome) o.onEnrolled?.(st.router, result);
    } else outcome = v;
  } catch (err) {
    o.logger.warn('ignored an enrollment event', { router: e.eventId, err });
    return undefined;
  }
  if ('refused' in outcome) {
    o.logger.warn('refused a router-agent enrollment', {
      code: 'AGENT_ENROLL_REFUSED',
      reason: outcome.refused,
      router: outcome.router,
      eventId: e.eventId,
      detail: outcome.detail,
    });
  }
  return outcome;
}

function logEnrolled(o: EnrollListenerOptions, router: string, result: EnrollResult, agentKey: string): void {
  const fingerprint = keyFingerprint(agentKey);
  if (result === 'pending-approval') {
    const what = 'router agent announced a new key: operator approval needed';
    o.logger.warn(`${what} (conductor-agent fleet --approve ROUTER --fingerprint FP)`, { router, result, fingerprint });
  } else o.logger.info('router agent enrolled', { router, result, fingerprint });
}

const windows = new WeakMap<EnrollListenerOptions, NonceWindow>();
function defaultNonces(o: EnrollListenerOptions): NonceWindow {
  let w = windows.get(o);
  if (!w) windows.set(o, (w = new NonceWindow()));
  return w;
}

/** Consume an event stream until it ends (or `signal` aborts). */
export async function runEnrollListener(
  events: AsyncIterable<{ raw: RawEventLike } | RawEventLike>,
  o: EnrollListenerOptions,
): Promise<void> {
  // Not awaited one by one: the registry coalesces a burst of enrollments into one write.
  const inFlight = new Set<Promise<unknown>>();
  const nonces = o.nonces ?? defaultNonces(o);
  for await (const ev of events) {
    const raw = 'raw' in ev ? ev.raw : ev;
    const p = handleEnrollEvent(raw, o, nonces).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
}
