/**
 * One router-agent connection on the conductor side: send the challenge, verify the signed hello
 * (router id + key: the enrolled key if there is one, else proof of possession of the announced
 * key), then route frames. Reports are verified against the session's key with replay protection.
 * Whether an unenrolled peer is admitted at all, and what it may do, is the server's
 * (sessions.ts): this class only proves who is talking.
 */
import type WebSocket from 'ws';
import { RecoveryError } from '../../shared/errors.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { Random } from '../../shared/ports/random.js';
import type { Logger } from '../../shared/log/logger.js';
import { decodeFrame, encodeFrame } from '../../shared/protocol/codec.js';
import { peekPayload, verifyEnvelope } from '../../shared/protocol/envelope.js';
import { keyFingerprint, loadPublicKey } from '../../shared/protocol/signing-keys.js';
import { validRouterId } from '../../shared/protocol/enroll.js';
import type { ReplayCache } from '../../shared/protocol/replay-cache.js';
import {
  PROTOCOL_VERSION,
  type AckFrame,
  type Frame,
  type ReportBody,
  type RouterHelloBody,
  type SignedEnvelope,
} from '../../shared/protocol/messages.js';
import type { KeyObject } from 'node:crypto';
import type { AgentRegistry } from '../registry/store.js';
import type { VerifiedReport } from './command-sender.js';

export interface AgentSessionOptions {
  ws: WebSocket;
  remote: string | undefined;
  clock: Clock;
  random: Random;
  logger: Logger;
  registry: AgentRegistry;
  /** The nonce memory for this router's reports (one per router, so one cannot fill another's). */
  replay: (routerId: string) => ReplayCache;
  helloTimeoutMs: number;
  /** Room for one more connection whose key is not enrolled? (Asked before such a hello is accepted.) */
  admitUnenrolled(): boolean;
  onReady(s: AgentSession): void;
  onReport(s: AgentSession, r: VerifiedReport): void;
  onAck(s: AgentSession, a: AckFrame): void;
  onClose(s: AgentSession): void;
}

export class AgentSession {
  readonly remote: string | undefined;
  routerId: string | undefined;
  enrolled = false;
  keyFingerprint: string | undefined;
  agentVersion: string | undefined;
  readonly #o: AgentSessionOptions;
  readonly #challenge: string;
  #key: KeyObject | undefined;
  #alive = true;
  #helloTimer: NodeJS.Timeout | undefined;
  #helloSeen = false;

  constructor(o: AgentSessionOptions) {
    this.#o = o;
    this.remote = o.remote;
    this.#challenge = o.random.id(24);
    o.ws.on('message', (data, isBinary) => {
      this.#alive = true;
      void this.#onMessage(data as Buffer, isBinary);
    });
    o.ws.on('pong', () => {
      this.#alive = true;
    });
    o.ws.on('error', (err) => o.logger.debug('agent connection error', { remote: this.remote, err: err.message }));
    o.ws.on('close', () => {
      this.#clearHelloTimer();
      o.onClose(this);
    });
    this.#helloTimer = o.clock.setTimeout(() => this.close(4408, 'no hello'), o.helloTimeoutMs);
    this.#helloTimer.unref?.();
    this.send({
      v: PROTOCOL_VERSION,
      type: 'hello',
      role: 'conductor',
      challenge: this.#challenge,
      serverTime: o.clock.now(),
    });
  }

  #clearHelloTimer(): void {
    if (this.#helloTimer) this.#o.clock.clearTimeout(this.#helloTimer);
    this.#helloTimer = undefined;
  }

  send(frame: Frame): boolean {
    if (this.#o.ws.readyState !== 1) return false;
    try {
      this.#o.ws.send(encodeFrame(frame));
      return true;
    } catch {
      return false;
    }
  }

  close(code: number, reason: string): void {
    try {
      this.#o.ws.close(code, reason);
    } catch {
      this.#o.ws.terminate();
    }
  }

  /** Called every heartbeat interval: drop a peer that did not answer the last ping. */
  heartbeat(): void {
    if (!this.#alive) {
      this.#o.logger.info('router agent stopped answering: dropping it', {
        router: this.routerId,
        remote: this.remote,
      });
      this.#o.ws.terminate();
      return;
    }
    this.#alive = false;
    try {
      this.#o.ws.ping();
    } catch {
      /* closing */
    }
  }

  #refuse(id: string, err: unknown): void {
    const code = err instanceof RecoveryError ? err.code : 'PROTOCOL_MALFORMED';
    this.#o.logger.warn('refused a frame from a router agent', {
      router: this.routerId,
      remote: this.remote,
      code,
      message: (err as Error).message,
    });
    this.send({ v: PROTOCOL_VERSION, type: 'ack', id, ok: false, code, message: (err as Error).message });
  }

  async #onMessage(data: Buffer, isBinary: boolean): Promise<void> {
    let frame: Frame;
    try {
      if (isBinary) throw new RecoveryError('PROTOCOL_MALFORMED', 'binary frames are not part of the protocol');
      frame = decodeFrame(data);
    } catch (err) {
      return this.#refuse('unknown', err);
    }
    if (!this.routerId) {
      if (frame.type !== 'hello' || frame.role !== 'router')
        return this.#refuse('hello', new RecoveryError('PROTOCOL_MALFORMED', 'expected a hello first'));
      if (this.#helloSeen) {
        return this.#refuse('hello', new RecoveryError('PROTOCOL_MALFORMED', 'one hello per connection'));
      }
      this.#helloSeen = true;
      return this.#hello(frame.envelope);
    }
    switch (frame.type) {
      case 'heartbeat':
        this.send({ v: PROTOCOL_VERSION, type: 'heartbeat', ts: this.#o.clock.now() });
        return;
      case 'ack':
        this.#o.onAck(this, frame);
        return;
      case 'report':
        return this.#report(frame.envelope);
      default:
        return this.#refuse(
          'unknown',
          new RecoveryError('PROTOCOL_MALFORMED', `unexpected ${frame.type} from a router agent`),
        );
    }
  }

  async #hello(envelope: SignedEnvelope): Promise<void> {
    try {
      const peek = peekPayload(envelope) as { body?: Partial<RouterHelloBody>; router?: string } | undefined;
      const claimed = peek?.body?.agentPublicKey;
      if (typeof claimed !== 'string' || !validRouterId(peek?.router)) {
        throw new RecoveryError('PROTOCOL_MALFORMED', 'hello without a valid router id or agent key');
      }
      await this.#o.registry.refresh();
      const entry = this.#o.registry.get(peek.router);
      const claimedKey = loadPublicKey(claimed, 'agent key in hello');
      const claimedFp = keyFingerprint(claimedKey);
      if (entry && entry.fingerprint !== claimedFp) {
        throw new RecoveryError(
          'AGENT_KEY_CHANGED',
          `router ${peek.router} presented key ${claimedFp}, enrolled is ${entry.fingerprint}`,
          {
            details: { router: peek.router },
            hint:
              'If the router was rebuilt, approve its new key after it re-enrolls over Salt ' +
              '(conductor-agent fleet --approve ROUTER --fingerprint FP).',
          },
        );
      }
      // The enrolled key verifies the hello (the same PEM as announced is not parsed twice).
      const key =
        entry && entry.agentPublicKey !== claimed
          ? loadPublicKey(entry.agentPublicKey, `enrolled key of ${peek.router}`)
          : claimedKey;
      const payload = verifyEnvelope<RouterHelloBody>(envelope, {
        kind: 'hello',
        publicKeys: [key],
        clock: this.#o.clock,
      });
      if (payload.body.challenge !== this.#challenge)
        throw new RecoveryError('PROTOCOL_REPLAYED', "hello does not answer this connection's challenge");
      if (!entry && !this.#o.admitUnenrolled()) {
        throw new RecoveryError('AGENT_LISTENER_BUSY', 'too many unenrolled router agents are connected; retry later', {
          details: { router: payload.router },
          hint: 'The agent enrolls over Salt (salt-call event.send) and is then always admitted.',
        });
      }
      this.#clearHelloTimer();
      this.routerId = payload.router;
      this.#key = key;
      this.enrolled = Boolean(entry);
      this.keyFingerprint = claimedFp;
      this.agentVersion = typeof payload.body.agentVersion === 'string' ? payload.body.agentVersion : undefined;
      this.send({ v: PROTOCOL_VERSION, type: 'ack', id: 'hello', ok: true, enrolled: this.enrolled });
      this.#o.onReady(this);
    } catch (err) {
      this.#refuse('hello', err);
      this.close(4403, err instanceof RecoveryError ? err.code : 'hello refused');
    }
  }

  async #report(envelope: SignedEnvelope): Promise<void> {
    if (!this.enrolled) {
      // Not verified, not remembered: an unenrolled peer must not fill the shared nonce cache.
      const message = 'reports are accepted only from enrolled router agents';
      this.send({ v: PROTOCOL_VERSION, type: 'ack', id: 'report', ok: false, code: 'AGENT_NOT_ENROLLED', message });
      return;
    }
    let payload;
    try {
      payload = verifyEnvelope<ReportBody>(envelope, {
        kind: 'report',
        publicKeys: [this.#key!],
        router: this.routerId,
        clock: this.#o.clock,
        replay: this.#o.replay(this.routerId!),
      });
      const kind = (payload.body as { kind?: unknown }).kind;
      if (kind !== 'trust' && kind !== 'reauth' && kind !== 'rollback')
        throw new RecoveryError('PROTOCOL_MALFORMED', 'unknown report kind');
    } catch (err) {
      return this.#refuse('report', err);
    }
    if (payload.body.commandId)
      this.send({ v: PROTOCOL_VERSION, type: 'ack', id: `report:${payload.body.commandId}`, ok: true });
    this.#o.onReport(this, {
      routerId: this.routerId!,
      body: payload.body,
      payload,
      envelope,
      verifiedWith: this.keyFingerprint!,
    });
  }
}
