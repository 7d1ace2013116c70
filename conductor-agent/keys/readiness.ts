/**
 * Pure rule for "may the master key be rotated with zero router touch": every known (accepted)
 * minion answered, runs with `verify_master_pubkey_sign: True`, and holds *our* `master_sign.pub`
 * (same Salt fingerprint), and pins no `master_finger` (which would make it exit 42 on the new key).
 * A minion failing any of these would refuse the new key and drop off.
 */
import type { SigningReport } from './minion-probe.js';

export type NotReadyReason =
  | 'no-answer'
  | 'verification-off'
  | 'sign-key-missing'
  | 'sign-key-differs'
  | 'master-finger-pinned';

export interface Readiness {
  ready: string[];
  notReady: { id: string; reason: NotReadyReason }[];
}

/** Classify each accepted minion from its report. */
export function evaluateReadiness(
  acceptedIds: readonly string[],
  reports: ReadonlyMap<string, SigningReport>,
  signKeyFingerprint: string,
): Readiness {
  const out: Readiness = { ready: [], notReady: [] };
  for (const id of acceptedIds) {
    const r = reports.get(id);
    let reason: NotReadyReason | undefined;
    if (!r?.responded) reason = 'no-answer';
    else if (r.verifies !== true) reason = 'verification-off';
    else if (r.signKeyFingerprint === null) reason = 'sign-key-missing';
    else if (r.signKeyFingerprint !== signKeyFingerprint) reason = 'sign-key-differs';
    // undefined = the source does not report pins; null = asked but unknown (treated as pinned).
    else if (r.masterFinger === null || (typeof r.masterFinger === 'string' && r.masterFinger !== ''))
      reason = 'master-finger-pinned';
    if (reason) out.notReady.push({ id, reason });
    else out.ready.push(id);
  }
  return out;
}
