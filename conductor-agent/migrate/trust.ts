/**
 * Salt trust after the move. The new conductor's master must be trusted by every router: either it
 * carries the old master key pair (restored from the backup; the routers' cached `minion_master.pub`
 * still matches and they follow by themselves), or each router is re-pinned to the new key through the
 * fleet re-authentication path (router agent or SSH: `master_finger` first, never "the first master
 * that answers"). Which one is decided from the two `master.pub` files before anything changes.
 */
import { RecoveryError } from '../../shared/errors.js';
import { pemFinger, type SaltHashType } from '../../shared/salt/fingerprint.js';
import type { TrustMode } from './types.js';

/**
 * The narrow interface migrate needs from fleet re-authentication (conductor-agent/fleet/, another
 * package): pin `fingerprint` on these routers' minions and confirm through the master.
 */
export interface RouterRepin {
  readonly available: boolean;
  readonly description: string;
  /**
   * `to`: the master whose key gate and salt-api confirm it: the new conductor's (default), or the
   * old one's when a rolled-back router is pinned back to the old key.
   */
  repin(router: string, minionIds: readonly string[], fingerprint: string, to?: 'new' | 'old'): Promise<void>;
}

/** Until the fleet path is wired in: refuses clearly, so a migration needing it stops at preflight. */
export const unavailableRepin: RouterRepin = {
  available: false,
  description: 'fleet re-authentication is not wired into migrate in this build',
  async repin() {
    throw new RecoveryError('MIGRATE_TRUST_UNAVAILABLE', 'router re-pinning is not available in this build', {
      hint: 'Restore the old master key pair on the new conductor (conductor-agent restore) and migrate again.',
    });
  },
};

export interface TrustDecision {
  mode: TrustMode;
  oldFingerprint: string;
  newFingerprint: string;
  how: string;
}

/** Pure: decide the trust mode from both master.pub files and the setting; throws when no safe mode exists. */
export function decideTrust(
  oldPub: string | Buffer,
  newPub: Buffer | undefined,
  setting: 'auto' | TrustMode,
  repin: Pick<RouterRepin, 'available' | 'description'>,
  hash: SaltHashType = 'sha256',
): TrustDecision {
  const oldFingerprint = pemFinger(oldPub, hash);
  if (newPub === undefined) {
    throw new RecoveryError('MIGRATE_PREFLIGHT', 'the new conductor has no Salt master public key (master.pub)', {
      hint: 'Install and start the new conductor (initialize128t) before migrating to it.',
    });
  }
  const newFingerprint = pemFinger(newPub, hash);
  if (oldFingerprint === newFingerprint && setting !== 'repin') {
    return {
      mode: 'same-key',
      oldFingerprint,
      newFingerprint,
      how: 'the new master carries the old key pair: routers keep trusting it without any change',
    };
  }
  if (setting === 'same-key') {
    throw new RecoveryError(
      'MIGRATE_TRUST_UNAVAILABLE',
      `the new master key (${newFingerprint}) is not the old one ` +
        `(${oldFingerprint}) and migrate.trust is same-key`,
      {
        details: { oldFingerprint, newFingerprint },
        hint: 'Restore the old master key pair on the new conductor first (conductor-agent restore).',
      },
    );
  }
  if (!repin.available) {
    throw new RecoveryError(
      'MIGRATE_TRUST_UNAVAILABLE',
      `the new master key (${newFingerprint}) is not the old one ` +
        `(${oldFingerprint}), and routers cannot be re-pinned: ${repin.description}`,
      {
        details: { oldFingerprint, newFingerprint },
        hint: 'Restore the old master key pair on the new conductor (conductor-agent restore), then migrate again.',
      },
    );
  }
  return {
    mode: 'repin',
    oldFingerprint,
    newFingerprint,
    how:
      `each router is re-pinned to ${newFingerprint} through fleet re-authentication once it reaches ` +
      'the new conductor',
  };
}
