/**
 * Who is connected to the agent listener, in three bounded groups:
 * - handshaking: connected, not yet proved a key (at most `maxHandshakes`, closed after the hello timeout);
 * - unenrolled: proved possession of a key the registry does not hold (at most `maxUnenrolled`,
 *   closed after `unenrolledTtlMs`). They never replace a session, never appear in the fleet view
 *   and never change trust state; an enrollment verified over Salt promotes the one whose key it names;
 * - authenticated: proved the router's enrolled key; one per router id (a newer one replaces the
 *   older: both proved the same key). Not capped: at most one per enrolled router.
 * The fleet view (`live`) holds authenticated routers only, and forgets one that left the registry.
 */
import type { EventEmitter } from 'node:events';
import type { Clock } from '../../shared/ports/clock.js';
import type { Logger } from '../../shared/log/logger.js';
import type { AgentRegistry } from '../registry/store.js';
import type { FleetEntry } from './fleet-view.js';
import type { AgentSession } from './session.js';

export interface ListenerLimits {
  /** Connections still proving their key at once (default 1024). */
  maxHandshakes: number;
  /** Connections with a proved but unenrolled key at once (default 256). */
  maxUnenrolled: number;
  /** Lifetime of an unenrolled connection (ms, default 120 s). */
  unenrolledTtlMs: number;
}

export const DEFAULT_LISTENER_LIMITS: ListenerLimits = {
  maxHandshakes: 1024,
  maxUnenrolled: 256,
  unenrolledTtlMs: 120_000,
};

/** Sizes of every per-connection structure (tests assert them; `fleet --json` could show them). */
export interface ListenerStats {
  connections: number;
  handshaking: number;
  unenrolled: number;
  authenticated: number;
  fleetEntries: number;
}

export interface SessionTableOptions {
  limits: ListenerLimits;
  clock: Clock;
  registry: AgentRegistry;
  logger: Logger;
  emitter: EventEmitter;
  /** A session became the router's authenticated one (send it the master fingerprint, …). */
  onAuthenticated(s: AgentSession): void;
}

export class SessionTable {
  readonly all = new Set<AgentSession>();
  readonly live = new Map<string, FleetEntry>();
  readonly #o: SessionTableOptions;
  readonly #handshaking = new Set<AgentSession>();
  readonly #unenrolled = new Map<AgentSession, NodeJS.Timeout>();
  readonly #byRouter = new Map<string, AgentSession>();

  constructor(o: SessionTableOptions) {
    this.#o = o;
  }

  /** Room for one more connection that has not proved a key? */
  canHandshake(): boolean {
    return this.#handshaking.size < this.#o.limits.maxHandshakes;
  }

  /** Room for one more unenrolled connection? */
  canAdmitUnenrolled(): boolean {
    return this.#unenrolled.size < this.#o.limits.maxUnenrolled;
  }

  add(s: AgentSession): void {
    this.all.add(s);
    this.#handshaking.add(s);
  }

  /** The authenticated session of a router. */
  get(routerId: string): AgentSession | undefined {
    return this.#byRouter.get(routerId);
  }

  /** Hello accepted: authenticated when it proved the enrolled key, else held as unenrolled. */
  ready(s: AgentSession, now: number): void {
    this.#handshaking.delete(s);
    if (s.enrolled) return this.#authenticate(s, now);
    const expire = (): void => s.close(4401, 'not enrolled: reconnect after enrollment');
    const timer = this.#o.clock.setTimeout(expire, this.#o.limits.unenrolledTtlMs);
    timer.unref?.();
    this.#unenrolled.set(s, timer);
  }

  /**
   * The registry now holds `routerId`'s key (enrolled over Salt, or approved): the unenrolled
   * connection that proved that key becomes authenticated; connections holding any other key for
   * that router are closed. True when a connection was promoted.
   */
  promote(routerId: string, now: number): boolean {
    const entry = this.#o.registry.get(routerId);
    if (!entry) return false;
    let chosen: AgentSession | undefined;
    for (const s of this.#unenrolled.keys()) {
      if (s.routerId !== routerId) continue;
      if (s.keyFingerprint === entry.fingerprint) chosen = s;
      else s.close(4403, 'AGENT_KEY_CHANGED');
    }
    const cur = this.#byRouter.get(routerId);
    if (cur && cur.keyFingerprint !== entry.fingerprint) cur.close(4403, 'AGENT_KEY_CHANGED');
    if (!chosen) return false;
    this.#o.clock.clearTimeout(this.#unenrolled.get(chosen)!);
    this.#unenrolled.delete(chosen);
    chosen.enrolled = true;
    this.#authenticate(chosen, now);
    return true;
  }

  closed(s: AgentSession): void {
    this.all.delete(s);
    this.#handshaking.delete(s);
    const t = this.#unenrolled.get(s);
    if (t) this.#o.clock.clearTimeout(t);
    this.#unenrolled.delete(s);
    const id = s.routerId;
    if (!id || this.#byRouter.get(id) !== s) return;
    this.#byRouter.delete(id);
    const e = this.live.get(id);
    if (e) e.connected = false;
    if (!this.#o.registry.get(id)) this.live.delete(id);
    this.#o.emitter.emit('disconnected', id);
  }

  stats(): ListenerStats {
    return {
      connections: this.all.size,
      handshaking: this.#handshaking.size,
      unenrolled: this.#unenrolled.size,
      authenticated: this.#byRouter.size,
      fleetEntries: this.live.size,
    };
  }

  #authenticate(s: AgentSession, now: number): void {
    const id = s.routerId!;
    const prev = this.#byRouter.get(id);
    if (prev && prev !== s) prev.close(4409, 'replaced by a newer connection');
    this.#byRouter.set(id, s);
    const entry = this.live.get(id) ?? { routerId: id, connected: true, enrolled: true };
    Object.assign(entry, {
      connected: true,
      enrolled: true,
      agentKeyFingerprint: s.keyFingerprint,
      agentVersion: s.agentVersion,
      remoteAddress: s.remote,
      connectedAt: new Date(now).toISOString(),
    });
    this.live.set(id, entry);
    this.#o.emitter.emit('connected', id, true);
    this.#o.onAuthenticated(s);
  }
}
