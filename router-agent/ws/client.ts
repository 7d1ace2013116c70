/**
 * One connection from the router agent to one conductor-agent node (an HA pair gets two). wss with
 * the conductor-agent's certificate pinned by fingerprint, checked right after the TLS handshake;
 * answers the conductor's challenge with a signed hello; heartbeats both ways and drops a silent
 * peer; reconnects with jittered exponential backoff. Emits `command` frames, `ready` after the
 * hello is accepted, and `ack` frames; never throws into the daemon.
 */
import { EventEmitter } from 'node:events';
import type { TLSSocket, ConnectionOptions } from 'node:tls';
import { isIP } from 'node:net';
import type WebSocket from 'ws';
import { AgentError, RecoveryError } from '../../shared/errors.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { Random } from '../../shared/ports/random.js';
import type { Logger } from '../../shared/log/logger.js';
import { decodeFrame, encodeFrame } from '../../shared/protocol/codec.js';
import { signEnvelope } from '../../shared/protocol/envelope.js';
import { normaliseCertFingerprint } from '../../shared/protocol/signing-keys.js';
import { MAX_FRAME_BYTES, PROTOCOL_VERSION, type Frame, type RouterHelloBody } from '../../shared/protocol/messages.js';
import type { KeyObject } from 'node:crypto';

export interface ConductorLinkOptions {
  url: string;
  certFingerprints: readonly string[];
  routerId: string;
  agentKey: { privateKey: KeyObject; publicPem: string };
  agentVersion: string;
  clock: Clock;
  random: Random;
  logger: Logger;
  heartbeatMs: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Source address to connect from (the fleet bench spreads 10,000 agents over loopback addresses). */
  localAddress?: string | undefined;
}

/** Full-jitter exponential backoff: a random delay in [min, min(max, min·2^attempt)]. */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, rnd: number): number {
  const cap = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 20));
  return Math.round(minMs + rnd * (cap - minMs));
}

let wsModule: typeof WebSocket | undefined;
let tlsConnect: typeof import('node:tls').connect;
async function loadWs(): Promise<void> {
  // No optional native add-ons on routers: skip ws's failing lookups for them.
  process.env.WS_NO_BUFFER_UTIL ??= '1';
  process.env.WS_NO_UTF_8_VALIDATE ??= '1';
  // getBuiltinModule, not import(): in the CommonJS bundle routers run, an import() of a builtin
  // would load node's whole ESM loader (≈2 MB of resident memory) for nothing.
  tlsConnect ??= process.getBuiltinModule('node:tls').connect;
  wsModule ??= (await import('ws')).default;
}

export class ConductorLink extends EventEmitter {
  readonly #o: ConductorLinkOptions;
  #ws: WebSocket | undefined;
  #ready = false;
  #stopped = false;
  #attempt = 0;
  #lastSeen = 0;
  #hbTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  /** Last connection problem (for status). */
  lastError: string | undefined;
  enrolled: boolean | undefined;

  constructor(options: ConductorLinkOptions) {
    super();
    this.#o = options;
  }

  get url(): string {
    return this.#o.url;
  }
  /** True once the conductor accepted our hello on the current connection. */
  get ready(): boolean {
    return this.#ready;
  }

  start(): void {
    this.#stopped = false;
    this.#connect();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retryTimer) this.#o.clock.clearTimeout(this.#retryTimer);
    if (this.#hbTimer) this.#o.clock.clearTimeout(this.#hbTimer);
    const ws = this.#ws;
    if (!ws || ws.readyState === 3 /* CLOSED */) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1000);
      ws.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      ws.close(1001, 'agent stopping');
    });
  }

  /** Send a frame if the link is ready; false otherwise (callers keep pending reports). */
  send(frame: Frame): boolean {
    const ws = this.#ws;
    if (ws?.readyState !== 1 /* OPEN */ || (!this.#ready && frame.type !== 'hello')) return false;
    try {
      ws.send(encodeFrame(frame));
      return true;
    } catch (err) {
      this.#o.logger.warn('could not send frame', { type: frame.type, err });
      return false;
    }
  }

  #connect(): void {
    if (this.#stopped) return;
    // ws (with https/tls/zlib) is loaded on first use, so the daemon is ready before it is parsed.
    if (!wsModule) {
      loadWs().then(
        () => this.#connect(),
        (err: unknown) => this.#o.logger.error('cannot load ws', { err }),
      );
      return;
    }
    const WebSocketCtor = wsModule;
    const pins = this.#o.certFingerprints.map(normaliseCertFingerprint);
    const createConnection = (opts: ConnectionOptions & { host?: string }): TLSSocket => {
      const host = opts.host ?? '';
      // As ws's own tlsConnect: `path` is the URL path here, not an IPC socket.
      const s = tlsConnect({
        ...opts,
        path: undefined,
        servername: isIP(host) ? undefined : host,
        rejectUnauthorized: false,
        ...(this.#o.localAddress ? { localAddress: this.#o.localAddress } : {}),
      } as ConnectionOptions);
      s.once('secureConnect', () => {
        const fp = normaliseCertFingerprint(s.getPeerCertificate().fingerprint256 ?? '');
        if (!pins.includes(fp)) {
          s.destroy(
            new AgentError('AGENT_TLS_PIN_MISMATCH', `conductor-agent certificate ${fp} is not the pinned one`, {
              details: { url: this.#o.url },
            }),
          );
        }
      });
      return s;
    };
    const ws = new WebSocketCtor(this.#o.url, {
      maxPayload: MAX_FRAME_BYTES,
      handshakeTimeout: 10_000,
      perMessageDeflate: false,
      createConnection: createConnection as never,
    });
    this.#ws = ws;
    this.#ready = false;
    ws.on('open', () => {
      this.#lastSeen = this.#o.clock.now();
      this.#heartbeat(ws);
    });
    ws.on('message', (data, isBinary) => this.#onMessage(ws, data as Buffer, isBinary));
    ws.on('error', (err) => {
      const code = err instanceof RecoveryError ? err.code : err.message;
      // A conductor-agent we never pinned is a refusal an operator must see (once per change, not per retry).
      if (code === 'AGENT_TLS_PIN_MISMATCH' && this.lastError !== code) {
        const msg = 'refused a conductor-agent whose certificate is not the pinned one';
        this.#o.logger.warn(msg, { url: this.#o.url, code });
      }
      this.lastError = code;
      this.#o.logger.debug('conductor link error', { url: this.#o.url, err: this.lastError });
    });
    ws.on('close', (code, reason) => {
      if (this.#hbTimer) this.#o.clock.clearTimeout(this.#hbTimer);
      const wasReady = this.#ready;
      this.#ready = false;
      if (this.#ws === ws) this.#ws = undefined;
      if (wasReady) this.emit('down', { code, reason: reason.toString() });
      if (this.#stopped) return;
      const delay = backoffDelay(
        this.#attempt++,
        this.#o.backoffMinMs ?? 500,
        this.#o.backoffMaxMs ?? 30_000,
        this.#o.random.float(),
      );
      this.#retryTimer = this.#o.clock.setTimeout(() => this.#connect(), delay);
    });
  }

  #heartbeat(ws: WebSocket): void {
    const hb = this.#o.heartbeatMs;
    this.#hbTimer = this.#o.clock.setTimeout(() => {
      if (ws.readyState !== 1 /* OPEN */) return;
      if (this.#o.clock.now() - this.#lastSeen > hb * 2.5) {
        this.#o.logger.warn('conductor-agent silent: dropping the connection', { url: this.#o.url });
        ws.terminate();
        return;
      }
      if (this.#ready) this.send({ v: PROTOCOL_VERSION, type: 'heartbeat', ts: this.#o.clock.now() });
      this.#heartbeat(ws);
    }, hb);
  }

  #onMessage(ws: WebSocket, data: Buffer, isBinary: boolean): void {
    this.#lastSeen = this.#o.clock.now();
    let frame: Frame;
    try {
      if (isBinary) throw new RecoveryError('PROTOCOL_MALFORMED', 'binary frames are not part of the protocol');
      frame = decodeFrame(data);
    } catch (err) {
      const code = err instanceof RecoveryError ? err.code : 'PROTOCOL_MALFORMED';
      this.#o.logger.warn('ignoring a frame from the conductor-agent', { code });
      if (this.#ready) this.send({ v: PROTOCOL_VERSION, type: 'ack', id: 'unknown', ok: false, code });
      return;
    }
    switch (frame.type) {
      case 'hello':
        if (frame.role !== 'conductor') return;
        {
          const skew = frame.serverTime - this.#o.clock.now();
          if (Math.abs(skew) > 60_000) {
            this.#o.logger.warn(
              "this router's clock differs from the conductor's: commands are refused beyond 5 minutes; check NTP",
              { skewSeconds: Math.round(skew / 1000), url: this.#o.url },
            );
          }
          const body: RouterHelloBody = {
            challenge: frame.challenge,
            agentPublicKey: this.#o.agentKey.publicPem,
            agentVersion: this.#o.agentVersion,
          };
          const envelope = signEnvelope({
            kind: 'hello',
            router: this.#o.routerId,
            body,
            privateKey: this.#o.agentKey.privateKey,
            clock: this.#o.clock,
            random: this.#o.random,
            ttlMs: 60_000,
          });
          ws.send(encodeFrame({ v: PROTOCOL_VERSION, type: 'hello', role: 'router', envelope }));
        }
        return;
      case 'ack':
        if (frame.id === 'hello') {
          if (frame.ok) {
            this.#ready = true;
            this.#attempt = 0;
            this.lastError = undefined;
            this.enrolled = frame.enrolled;
            this.emit('ready', { enrolled: Boolean(frame.enrolled) });
          } else {
            this.lastError = frame.code;
            this.#o.logger.error('conductor-agent refused our hello', {
              code: frame.code,
              message: frame.message,
              url: this.#o.url,
            });
          }
          return;
        }
        this.emit('ack', frame);
        return;
      case 'command':
        this.emit('command', frame);
        return;
      case 'heartbeat':
        return;
      default:
        return;
    }
  }
}
