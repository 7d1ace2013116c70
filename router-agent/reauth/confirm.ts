/**
 * Waiting for the pinned minion to authenticate. Success is judged from the cached key file (its
 * fingerprint equals the pin) and the minion staying up for `settleMs`: a successful
 * re-authentication writes nothing to the minion log at the default level (reference/salt.md §10),
 * so we never wait for a success line. Failure is the mismatch (or rejection) line, a cached key
 * that is not the pinned one (Salt writes it before exiting 42), the minion exiting, or the timeout.
 * A failure decided from the files or the service state comes before the minion has logged why:
 * the log is then tailed until that line arrives and the minion is down (or a short grace passes),
 * so the outcome carries the evidence.
 */
import type { Clock } from '../../shared/ports/clock.js';
import type { ServiceControl } from '../../shared/ports/service-control.js';
import { cachedFingerprint } from '../minion/pki.js';
import { classifyLine } from '../trust/classify.js';
import type { LogTail } from '../trust/log-tail.js';

export interface ConfirmOptions {
  pkiDir: string;
  service: ServiceControl;
  clock: Clock;
  tail: LogTail;
  /** The pin; undefined only for --trust-first-master (any cached key will do). */
  fingerprint?: string | undefined;
  timeoutMs: number;
  settleMs: number;
  pollMs: number;
  /** Called once when a matching key is first seen (timings). */
  onKeyCached?: () => void;
}

export interface ConfirmResult {
  ok: boolean;
  reason: 'authenticated' | 'finger-mismatch' | 'rejected' | 'wrong-key-cached' | 'minion-exited' | 'timeout';
  cachedFingerprint?: string | undefined;
  evidence: string[];
}

/** Evidence kept: the most recent lines (the reason for a failure is logged last). */
const MAX_EVIDENCE_LINES = 60;

/** How long a failure waits for the minion's reason and exit: ~20 polls, within [2 s, 5 s]. */
export function failureGraceMs(pollMs: number): number {
  return Math.min(5_000, Math.max(2_000, pollMs * 20));
}

const isFailureLine = (line: string): boolean => {
  const kind = classifyLine(line)?.kind;
  return kind === 'finger-mismatch' || kind === 'rejected' || kind === 'not-authenticated';
};

export async function confirmAuthenticated(o: ConfirmOptions): Promise<ConfirmResult> {
  const evidence: string[] = [];
  const deadline = o.clock.now() + o.timeoutMs;
  let okSince: number | undefined;
  let inactive = 0;
  let seenKey = false;
  let sawReason = false;
  let cached: string | undefined;
  const done = (ok: boolean, reason: ConfirmResult['reason']): ConfirmResult => ({ ok, reason, cachedFingerprint: cached, evidence });
  const take = (lines: string[]): void => {
    for (const line of lines) {
      if (isFailureLine(line)) sawReason = true;
      evidence.push(line.length > 400 ? line.slice(0, 400) + '…' : line);
    }
    if (evidence.length > MAX_EVIDENCE_LINES) evidence.splice(0, evidence.length - MAX_EVIDENCE_LINES);
  };
  /**
   * Salt writes the refused key before it logs why and exits, and a loaded router can take a while
   * between the two: keep tailing until the reason is logged and the minion is down, or the grace
   * passes. The service is asked first, so a poll after "down" holds everything it wrote.
   */
  const failed = async (reason: ConfirmResult['reason']): Promise<ConfirmResult> => {
    const until = o.clock.now() + failureGraceMs(o.pollMs);
    for (;;) {
      const active = await o.service.isActive().catch(() => false);
      take(await o.tail.poll().catch(() => [] as string[]));
      if ((sawReason && !active) || o.clock.now() >= until) break;
      await o.clock.sleep(Math.max(10, o.pollMs));
    }
    take(await o.tail.poll().catch(() => [] as string[])); // continuation lines written just after
    return done(false, reason);
  };
  for (;;) {
    let event: string | undefined;
    const lines = await o.tail.poll().catch(() => [] as string[]);
    take(lines);
    for (const line of lines) {
      const ev = classifyLine(line);
      if (ev && (ev.kind === 'finger-mismatch' || ev.kind === 'rejected')) event ??= ev.kind;
    }
    const active = await o.service.isActive().catch(() => false);
    cached = await cachedFingerprint(o.pkiDir);
    if (event === 'finger-mismatch') return failed('finger-mismatch');
    if (event === 'rejected') return failed('rejected');
    if (cached !== undefined && o.fingerprint !== undefined && cached !== o.fingerprint) return failed('wrong-key-cached');
    inactive = active ? 0 : inactive + 1;
    if (inactive >= 2) return failed('minion-exited');
    const now = o.clock.now();
    if (active && cached !== undefined) {
      if (!seenKey) {
        seenKey = true;
        o.onKeyCached?.();
      }
      okSince ??= now;
      if (now - okSince >= o.settleMs) return done(true, 'authenticated');
    } else okSince = undefined;
    if (now >= deadline) return done(false, 'timeout');
    await o.clock.sleep(Math.min(o.pollMs, Math.max(1, deadline - now)));
  }
}
