/**
 * Waiting for the pinned minion to authenticate. A successful re-authentication writes nothing to
 * the minion log at the default level (reference/salt.md §10), and "the pinned key is cached and
 * the minion is up" is no proof: a pinned minion with the right key cached facing another master
 * keeps retrying instead of exiting. So success needs all of: the pinned key cached, the minion up
 * for `settleMs` with no refusal line since its start, and then positive evidence from the master
 * side: `probe` (salt-call test.ping with the minion's own config and pin) must succeed, which
 * needs a master that proves it holds the pinned key and accepts this minion. Failure is a refusal
 * line (mismatch, rejection, "master key has changed"), a cached key that is not the pinned one
 * (Salt writes it before exiting 42), the minion exiting, the probe failing, or the timeout.
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
  /** Positive evidence that the master answers this minion (salt-call test.ping). */
  probe: MasterProbe;
}

/**
 * One check against the master, e.g. `salt-call test.ping`, given the time left before the
 * confirmation's deadline (at least a few seconds); `detail` becomes evidence.
 */
export type MasterProbe = (timeoutMs: number) => Promise<{ ok: boolean; detail: string[] }>;

/** The probe gets at least this long, even when the settle period ran close to the deadline. */
export const MIN_PROBE_MS = 15_000;

export interface ConfirmResult {
  ok: boolean;
  reason:
    | 'authenticated'
    | 'finger-mismatch'
    | 'rejected'
    | 'master-key-changed'
    | 'wrong-key-cached'
    | 'minion-exited'
    | 'not-confirmed'
    | 'timeout';
  cachedFingerprint?: string | undefined;
  evidence: string[];
  /** What confirmed success (the probe's output). */
  confirmedBy?: string[] | undefined;
}

/** Evidence kept: the most recent lines (the reason for a failure is logged last). */
const MAX_EVIDENCE_LINES = 60;

/** How long a failure waits for the minion's reason and exit: ~20 polls, within [2 s, 5 s]. */
export function failureGraceMs(pollMs: number): number {
  return Math.min(5_000, Math.max(2_000, pollMs * 20));
}

const isFailureLine = (line: string): boolean => classifyLine(line) !== undefined;

/** The failure a refusal line announces (every trust line is one after our restart). */
const failureFor = (kind: string): ConfirmResult['reason'] =>
  kind === 'finger-mismatch' ? 'finger-mismatch' : kind === 'rejected' ? 'rejected' : 'master-key-changed';

export async function confirmAuthenticated(o: ConfirmOptions): Promise<ConfirmResult> {
  const evidence: string[] = [];
  const deadline = o.clock.now() + o.timeoutMs;
  let okSince: number | undefined;
  let inactive = 0;
  let seenKey = false;
  let sawReason = false;
  let cached: string | undefined;
  const done = (ok: boolean, reason: ConfirmResult['reason']): ConfirmResult => ({
    ok,
    reason,
    cachedFingerprint: cached,
    evidence,
  });
  const take = (lines: string[]): void => {
    for (const line of lines) {
      if (isFailureLine(line)) sawReason = true;
      evidence.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
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
  /** Positive evidence, then one more look at the log (salt-call logs its refusals there too). */
  const probe = async (): Promise<ConfirmResult> => {
    const left = Math.max(MIN_PROBE_MS, deadline - o.clock.now());
    const r = await o.probe(left).catch((err: unknown) => ({ ok: false, detail: [(err as Error).message] }));
    const lines = await o.tail.poll().catch(() => [] as string[]);
    take(lines);
    const refusal = lines.map((l) => classifyLine(l)).find((e) => e !== undefined);
    if (refusal) return failed(failureFor(refusal.kind));
    if (!r.ok) {
      take(r.detail.map((l) => `probe: ${l}`));
      return failed('not-confirmed');
    }
    cached = await cachedFingerprint(o.pkiDir);
    if (o.fingerprint !== undefined && cached !== o.fingerprint) return failed('wrong-key-cached');
    return { ...done(true, 'authenticated'), confirmedBy: r.detail };
  };
  for (;;) {
    let event: ConfirmResult['reason'] | undefined;
    const lines = await o.tail.poll().catch(() => [] as string[]);
    take(lines);
    for (const line of lines) {
      const ev = classifyLine(line);
      if (ev) event ??= failureFor(ev.kind);
    }
    const active = await o.service.isActive().catch(() => false);
    cached = await cachedFingerprint(o.pkiDir);
    if (event) return failed(event);
    if (cached !== undefined && o.fingerprint !== undefined && cached !== o.fingerprint)
      return failed('wrong-key-cached');
    inactive = active ? 0 : inactive + 1;
    if (inactive >= 2) return failed('minion-exited');
    const now = o.clock.now();
    if (active && cached !== undefined) {
      if (!seenKey) {
        seenKey = true;
        o.onKeyCached?.();
      }
      okSince ??= now;
      if (now - okSince >= o.settleMs) return probe();
    } else okSince = undefined;
    if (now >= deadline) return done(false, 'timeout');
    await o.clock.sleep(Math.min(o.pollMs, Math.max(1, deadline - now)));
  }
}
