/**
 * `GET /events` as a typed, self-healing stream. Opens the SSE stream with the session token,
 * parses salt-api's framing ({@link SseParser}), classifies events ({@link classifySaltEvent}),
 * filters by tag globs, and reconnects when the stream ends: after the server's `retry:` hint
 * (400 ms on salt-api) with jittered backoff on repeated failures, logging in again when the token
 * has expired (salt-api ends the stream then) or a reconnect gets 401. Events fired while
 * disconnected are lost (salt-api has no replay): listen for `reconnected` to resynchronise.
 *
 * A stream can also die without ending: a salt-api asked to stop (restart, upgrade) keeps serving
 * an open `/events` stream from the old process, which no longer follows the master (reference/
 * salt.md §10), and salt-api sends no heartbeat. So when nothing arrived for `liveness.idleMs`, the
 * stream fires a probe event through salt-api (runner `event.send`, tag `ssr-recovery/stream-probe/…`);
 * when no data follows within `liveness.probeTimeoutMs` (the probe, or the runner's own job events),
 * the stream is stale: it is dropped and reopened (`disconnected` with reason `stream-stale`).
 */
import { observeSink } from '../../shared/observe/sink.js';
import { EventEmitter } from 'node:events';
import { RecoveryError, SaltApiError } from '../../shared/errors.js';
import { systemClock, type Clock } from '../../shared/ports/clock.js';
import { systemRandom, type Random } from '../../shared/ports/random.js';
import { nullLogger, type Logger } from '../../shared/log/logger.js';
import { tagMatches } from '../../shared/salt/event-tags.js';
import type { SaltApiClient } from './client.js';
import { errorFromNetwork, errorFromResponse } from './errors.js';
import { classifySaltEvent, parseRawEvent, type SaltEvent } from './salt-event.js';
import { SseParser } from './sse-parser.js';

export interface SaltEventStreamOptions {
  /** Tag globs to keep (`salt/auth`, `salt/minion/*\/start`, …); default all. */
  tags?: string[];
  /** Reconnect delay cap in ms after repeated failures (default 30 s). */
  maxDelayMs?: number;
  /** Consecutive 401s after a fresh login before giving up with SALTAPI_AUTH_DENIED (default 2). */
  maxAuthFailures?: number;
  /** Events kept while nobody reads; the oldest are dropped beyond it, with a `warning` (default 10,000). */
  maxQueue?: number;
  /** Dead-stream detection (see the module comment); `false` turns it off. */
  liveness?: false | { idleMs?: number; probeTimeoutMs?: number };
  clock?: Clock;
  random?: Random;
  logger?: Logger;
}

/** Tag prefix of the liveness probes; such events are never handed to readers. */
export const STREAM_PROBE_TAG = 'ssr-recovery/stream-probe';
const DEFAULT_IDLE_MS = 30_000;
// generous: on a loaded 2-core test rig a runner call took up to ~20 s to show its events
const DEFAULT_PROBE_TIMEOUT_MS = 30_000;

/**
 * Events: `connected` (each successful open), `reconnected` (every open after the first),
 * `disconnected` (stream ended, with the reason), `warning` (a malformed event, skipped).
 */
export class SaltEventStream extends EventEmitter implements AsyncIterable<SaltEvent> {
  private readonly queue: SaltEvent[] = [];
  private waiters: Array<{ resolve: (r: IteratorResult<SaltEvent>) => void; reject: (e: unknown) => void }> = [];
  private readonly ac = new AbortController();
  private failure: unknown;
  private closed = false;
  private retryMs = 400;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly log: Logger;
  /** Times the stream was opened. */
  opens = 0;
  /** Liveness probes sent, and streams dropped as stale. */
  probes = 0;
  staleDrops = 0;
  /** Clock time of the last data received on the open stream. */
  lastDataAt = 0;

  constructor(
    private readonly client: SaltApiClient,
    private readonly o: SaltEventStreamOptions = {},
  ) {
    super();
    this.clock = o.clock ?? systemClock;
    this.random = o.random ?? systemRandom;
    this.log = (o.logger ?? nullLogger).child({ component: 'saltapi-events' });
    void this.loop();
  }

  /** Stop the stream; pending `next()` calls end. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ac.abort();
    for (const w of this.waiters.splice(0)) w.resolve({ value: undefined, done: true });
  }

  /** The next event (or rejects with the error that ended the stream). */
  next(): Promise<IteratorResult<SaltEvent>> {
    const e = this.queue.shift();
    if (e) return Promise.resolve({ value: e, done: false });
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Resolve with the first event satisfying `pred` (events before it are consumed). */
  async waitFor(pred: (e: SaltEvent) => boolean, timeoutMs = 30_000): Promise<SaltEvent> {
    const timer = this.clock.setTimeout(
      () => this.fail(new SaltApiError('SALTAPI_TIMEOUT', `no matching Salt event within ${timeoutMs} ms`)),
      timeoutMs,
    );
    try {
      for (;;) {
        const r = await this.next();
        if (r.done) throw new SaltApiError('SALTAPI_UNAVAILABLE', 'the event stream was closed');
        if (pred(r.value)) return r.value;
      }
    } finally {
      this.clock.clearTimeout(timer);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<SaltEvent> {
    return {
      next: () => this.next(),
      return: async () => {
        this.close();
        return { value: undefined, done: true };
      },
    };
  }

  private wants(tag: string): boolean {
    return !tag.startsWith(`${STREAM_PROBE_TAG}/`) && (!this.o.tags || this.o.tags.some((p) => tagMatches(p, tag)));
  }

  private push(e: SaltEvent): void {
    if (!this.wants(e.tag)) return;
    const w = this.waiters.shift();
    if (w) return w.resolve({ value: e, done: false });
    this.queue.push(e);
    if (this.queue.length > (this.o.maxQueue ?? 10_000)) {
      this.queue.shift();
      this.emit(
        'warning',
        new SaltApiError('SALTAPI_BAD_PAYLOAD', 'event queue full: the oldest unread Salt event was dropped'),
      );
    }
  }

  private fail(err: unknown): void {
    this.failure = err;
    this.closed = true;
    this.ac.abort();
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  private async loop(): Promise<void> {
    let failures = 0;
    let authFailures = 0;
    while (!this.closed) {
      let reason = 'ended';
      try {
        const conn = new AbortController();
        const onClose = (): void => conn.abort();
        this.ac.signal.addEventListener('abort', onClose, { once: true });
        const token = await this.client.token();
        // X-Auth-Token (added by rawFetch) and the session cookie: Events.GET reads the cookie itself,
        // so this works whether or not salt_token_tool copies the header (never ?token=, which lands in logs)
        const res = await this.client.rawFetch('/events', {
          headers: { Accept: 'text/event-stream', Cookie: `session_id=${token}` },
          signal: conn.signal,
          token,
        });
        if (res.status === 401) {
          this.client.invalidate(token);
          if (++authFailures >= (this.o.maxAuthFailures ?? 2))
            throw errorFromResponse({
              status: 401,
              body: await res.text(),
              contentType: res.headers.get('content-type') ?? '',
              request: 'GET /events',
            });
          continue; // log in again at once
        }
        if (res.status >= 400)
          throw errorFromResponse({
            status: res.status,
            body: await res.text(),
            contentType: res.headers.get('content-type') ?? '',
            request: 'GET /events',
          });
        authFailures = 0;
        failures = 0;
        this.opens++;
        this.emit('connected');
        if (this.opens > 1) {
          observeSink().eventsReconnected();
          this.emit('reconnected');
        }
        const watch = this.watchLiveness(conn);
        try {
          await this.consume(res.body as unknown as AsyncIterable<Buffer>, conn.signal);
        } finally {
          watch.stop();
          this.ac.signal.removeEventListener('abort', onClose);
        }
        if (watch.stale()) reason = 'stream-stale';
        // salt-api ends the stream when the token expires: log in again before reconnecting
        const s = this.client.currentSession;
        if (s && s.expire * 1000 <= this.clock.now()) this.client.invalidate(s.token);
      } catch (err) {
        if (this.closed) break;
        if (err instanceof SaltApiError && err.code === 'SALTAPI_AUTH_DENIED') return this.fail(err);
        if (err instanceof SaltApiError && err.code === 'SALTAPI_BAD_PAYLOAD') return this.fail(err);
        // configuration problems (password file unreadable, bad URL) do not heal by retrying
        if (err instanceof RecoveryError && !(err instanceof SaltApiError)) return this.fail(err);
        reason = err instanceof SaltApiError ? err.code : (err as Error).message;
        if (!(err instanceof SaltApiError)) reason = errorFromNetwork(err, 'GET /events').code;
        failures++;
      }
      if (this.closed) break;
      this.emit('disconnected', reason);
      const backoff = failures
        ? Math.min(this.o.maxDelayMs ?? 30_000, this.retryMs * 2 ** Math.min(failures, 10))
        : this.retryMs;
      const delay = backoff * (failures ? 0.5 + this.random.float() / 2 : 1);
      this.log.debug('event stream reconnecting', { reason, delayMs: Math.round(delay) });
      await this.clock.sleep(delay, this.ac.signal).catch(() => undefined);
    }
  }

  private watchLiveness(conn: AbortController): { stop: () => void; stale: () => boolean } {
    const l = this.o.liveness;
    if (l === false) return { stop: () => undefined, stale: () => false };
    this.lastDataAt = this.clock.now();
    return livenessWatch({
      clock: this.clock,
      log: this.log,
      conn,
      idleMs: l?.idleMs ?? DEFAULT_IDLE_MS,
      probeTimeoutMs: l?.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
      lastDataAt: () => this.lastDataAt,
      probe: () => {
        this.probes++;
        const tag = `${STREAM_PROBE_TAG}/${this.random.bytes(6).toString('hex')}`;
        return this.client.runner('event.send', { tag, data: { probe: true } });
      },
      onStale: () => {
        this.staleDrops++;
      },
    });
  }

  private async consume(body: AsyncIterable<Buffer>, conn: AbortSignal): Promise<void> {
    const parser = new SseParser();
    const decoder = new TextDecoder();
    try {
      for await (const chunk of body) {
        this.lastDataAt = this.clock.now();
        for (const item of parser.feed(decoder.decode(chunk, { stream: true }))) {
          if (item.type === 'retry') {
            this.retryMs = item.retry;
            continue;
          }
          // Not wanted by its `tag:` line (salt-api writes the event's own tag there): not parsed. The
          // daemon wants enrollments only, and a fleet coming back fires tens of thousands of others.
          if (item.tag !== undefined && !this.wants(item.tag)) continue;
          try {
            this.push(classifySaltEvent(parseRawEvent(item.data, item.tag)));
          } catch (err) {
            this.emit('warning', err);
          }
        }
      }
    } catch (err) {
      if (this.closed || conn.aborted) return; // closed, or dropped as stale by watchLiveness
      if (err instanceof SaltApiError) throw err;
      throw errorFromNetwork(err, 'GET /events');
    }
  }
}

/**
 * Watch one open connection: after `idleMs` without data send a probe event; when no data arrives
 * within `probeTimeoutMs` after it, abort the connection (the loop reopens it).
 */
function livenessWatch(stream: {
  clock: Clock;
  log: Logger;
  idleMs: number;
  probeTimeoutMs: number;
  conn: AbortController;
  lastDataAt: () => number;
  probe: () => Promise<unknown>;
  onStale: () => void;
}): { stop: () => void; stale: () => boolean } {
  const { clock, idleMs, probeTimeoutMs, conn } = stream;
  let timer: NodeJS.Timeout | undefined;
  let probeAt: number | undefined;
  let stale = false;
  const arm = (ms: number): void => {
    timer = clock.setTimeout(check, Math.max(1, ms));
  };
  function check(): void {
    if (conn.signal.aborted) return;
    const now = clock.now();
    // data followed the probe (lastDataAt was at least idleMs before probeAt when it was sent)
    if (probeAt !== undefined && stream.lastDataAt() >= probeAt) probeAt = undefined;
    const idle = now - stream.lastDataAt();
    if (probeAt === undefined) {
      if (idle < idleMs) return arm(idleMs - idle);
      probeAt = now;
      stream.probe().catch((err: unknown) => stream.log.debug('event stream probe failed', { error: String(err) }));
      return arm(probeTimeoutMs);
    }
    if (now - probeAt < probeTimeoutMs) return arm(probeTimeoutMs - (now - probeAt));
    stale = true;
    stream.log.warn('salt-api event stream delivered nothing after a probe event: reconnecting', { idleMs: idle });
    stream.onStale();
    conn.abort();
  }
  arm(idleMs);
  return {
    stop: () => {
      if (timer) clock.clearTimeout(timer);
    },
    stale: () => stale,
  };
}

/** Open the typed event stream of `client` (see {@link SaltEventStreamOptions}). */
export function openSaltEvents(client: SaltApiClient, options: SaltEventStreamOptions = {}): SaltEventStream {
  return new SaltEventStream(client, options);
}
