/**
 * Waiting for the answers to a command: the router's ack (received, or refused with a code) and
 * later its signed report naming the command id. Waiters are keyed by command id, not by
 * connection, so a report the router delivers after reconnecting (or after an agent restart) still
 * completes the command.
 */
import { AgentError, ProtocolError, type RecoveryError, ErrorCodes, type ErrorCode } from '../../shared/errors.js';
import type { AckFrame, EnvelopePayload, ReportBody, SignedEnvelope } from '../../shared/protocol/messages.js';

/** A report whose signature was checked against the router's enrolled key. */
export interface VerifiedReport {
  routerId: string;
  body: ReportBody;
  payload: EnvelopePayload<ReportBody>;
  /** The signed envelope as received (kept for audit). */
  envelope: SignedEnvelope;
  /** Fingerprint of the enrolled key that verified it. */
  verifiedWith: string;
}

interface Waiter<T> {
  routerId: string;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
}

export class CommandWaiters {
  readonly #acks = new Map<string, Waiter<AckFrame>>();
  readonly #reports = new Map<string, Waiter<VerifiedReport>>();

  /** Expect an ack for `id` from `routerId` within `ms`. */
  ack(id: string, routerId: string, ms: number): Promise<AckFrame> {
    return this.#wait(
      this.#acks,
      id,
      routerId,
      ms,
      () =>
        new AgentError('AGENT_TIMEOUT', `router agent ${routerId} did not acknowledge command ${id} within ${ms} ms`, {
          details: { router: routerId, command: id },
        }),
    );
  }

  /** Expect a verified report for `id` from `routerId` within `ms`. */
  report(id: string, routerId: string, ms: number): Promise<VerifiedReport> {
    return this.#wait(
      this.#reports,
      id,
      routerId,
      ms,
      () =>
        new AgentError('AGENT_TIMEOUT', `router agent ${routerId} did not report on command ${id} within ${ms} ms`, {
          details: { router: routerId, command: id },
          hint: 'The router may still be working: check `conductor-agent fleet` for its last report.',
        }),
    );
  }

  /** An ack arrived from `routerId`. A refusal rejects both waiters with the router's code. */
  onAck(routerId: string, ack: AckFrame): void {
    const w = this.#acks.get(ack.id);
    if (!w || w.routerId !== routerId) return;
    this.#settle(this.#acks, ack.id);
    if (ack.ok) return w.resolve(ack);
    const code = (ack.code && ack.code in ErrorCodes ? ack.code : 'PROTOCOL_MALFORMED') as ErrorCode;
    const err = new ProtocolError(
      code,
      `router agent ${routerId} refused command ${ack.id}: ${ack.message ?? ack.code ?? 'no reason'}`,
      { details: { router: routerId, command: ack.id, routerCode: ack.code } },
    );
    w.reject(err);
    const r = this.#reports.get(ack.id);
    if (r) {
      this.#settle(this.#reports, ack.id);
      r.reject(err);
    }
  }

  /** A verified report arrived; true when it completed a waiting command. */
  onReport(report: VerifiedReport): boolean {
    const id = report.body.commandId;
    if (!id) return false;
    const w = this.#reports.get(id);
    if (!w || w.routerId !== report.routerId) return false;
    this.#settle(this.#reports, id);
    w.resolve(report);
    return true;
  }

  /** Reject everything (server closing). */
  rejectAll(err: RecoveryError): void {
    for (const map of [this.#acks, this.#reports] as Map<string, Waiter<unknown>>[]) {
      for (const [id, w] of map) {
        this.#settle(map, id);
        w.reject(err);
      }
    }
  }

  #wait<T>(
    map: Map<string, Waiter<T>>,
    id: string,
    routerId: string,
    ms: number,
    timeout: () => RecoveryError,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        map.delete(id);
        reject(timeout());
      }, ms);
      timer.unref?.();
      map.set(id, { routerId, resolve, reject, timer });
    });
  }

  #settle<T>(map: Map<string, Waiter<T>>, id: string): void {
    const w = map.get(id);
    if (w) clearTimeout(w.timer);
    map.delete(id);
  }
}
