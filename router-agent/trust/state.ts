/**
 * Pure: the trust state from what the watcher observed. Order matters: a minion that is down is
 * down whatever its files say; a mismatch it logged explains why; log evidence of a changed master
 * key counts only when newer than the cached key file and the minion's last start (a successful
 * re-authentication writes nothing to the log, so old errors must not outlive the key or the run
 * they were about).
 */
import type { TrustState } from '../../shared/protocol/messages.js';
import type { MinionLogEventKind } from './classify.js';

export interface TrustObservation {
  minionActive: boolean;
  cachedFingerprint?: string | undefined;
  pinnedFingerprint?: string | undefined;
  expectedFingerprint?: string | undefined;
  /** The newest trust event from the log that is newer than the cached key and the last minion start. */
  lastEvent?: MinionLogEventKind | undefined;
}

export function computeTrustState(o: TrustObservation): TrustState {
  if (!o.minionActive) return o.lastEvent === 'finger-mismatch' ? 'finger-mismatch' : 'minion-down';
  if (o.lastEvent === 'finger-mismatch') return 'finger-mismatch';
  if (o.lastEvent === 'key-changed' || o.lastEvent === 'not-authenticated') {
    // Pinned, the pinned key cached, and the conductor (if it said) agrees that key is current: the
    // master answering is another one. Salt keeps retrying here instead of exiting 42
    // (reference/salt.md §10), and re-pinning the same key would change nothing.
    const pinnedKeyIsCurrent =
      o.pinnedFingerprint !== undefined &&
      o.cachedFingerprint === o.pinnedFingerprint &&
      (o.expectedFingerprint === undefined || o.expectedFingerprint === o.cachedFingerprint);
    return pinnedKeyIsCurrent ? 'finger-mismatch' : 'stale-master-key';
  }
  if (o.cachedFingerprint === undefined) return 'no-master-key';
  if (o.pinnedFingerprint && o.cachedFingerprint !== o.pinnedFingerprint) return 'finger-mismatch';
  if (o.expectedFingerprint && o.cachedFingerprint !== o.expectedFingerprint) return 'stale-master-key';
  return 'trusted';
}
