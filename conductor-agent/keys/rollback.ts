/**
 * `keys rotate --rollback`: put a kept master key pair back, restart salt-master and wait for the
 * minions. Minions that already followed the new key follow the old one back the same way (it is
 * signed by the same `master_sign` key); minions that never moved simply reconnect.
 */
import { join } from 'node:path';
import { acquireLock } from '../../shared/fs/lock.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { ServiceControl } from '../../shared/ports/service-control.js';
import type { Logger } from '../../shared/log/logger.js';
import { pemFinger } from '../../shared/salt/fingerprint.js';
import { KeysError } from '../../shared/errors.js';
import type { FaultSwitch } from '../../shared/fault.js';
import type { PlannedChange } from './changes.js';
import { readMasterConfig } from './master-config.js';
import type { MinionProbe } from './minion-probe.js';
import { listMinionKeys, masterKeyPaths, readOptional } from './pki.js';
import { restorePair } from './rotate.js';
import { findRollbackTarget, readKeptPair, saveRecord } from './rotation-store.js';
import { signMasterPub, verifyMasterPubSignature } from './signature.js';
import { waitForMinions } from './wait-for-minions.js';

export interface RollbackOptions {
  pkiDir: string;
  masterConfig: string;
  rotationsDir: string;
  /** Default: the newest applied rotation. */
  rotationId?: string;
  service: ServiceControl;
  probe: MinionProbe;
  clock: Clock;
  waitMs: number;
  pollMs?: number;
  dryRun?: boolean;
  logger?: Logger;
  /** Kill -9 points for the fault suite (`SSR_RECOVERY_KEYS_FAULT`, shared/fault.ts). */
  fault?: FaultSwitch;
}

export interface RollbackReport {
  dryRun: boolean;
  rotationId: string;
  restoredFingerprint: string;
  replacedFingerprint: string | null;
  changes: PlannedChange[];
  answered: string[];
  missing: string[];
  waitedMs: number;
}

/** Roll back to the pair kept by a rotation. */
export async function rollbackRotation(o: RollbackOptions): Promise<RollbackReport> {
  const record = await findRollbackTarget(o.rotationsDir, o.rotationId);
  const kept = await readKeptPair(o.rotationsDir, record.id);
  const st = (await readMasterConfig(o.masterConfig)).settings;
  const paths = masterKeyPaths(o.pkiDir, st.signKeyName, st.pubkeySignatureFile);
  const currentPub = await readOptional(paths.masterPub);
  const signPub = await readOptional(paths.signPub);
  const signPem = await readOptional(paths.signPem);
  // The kept signature may predate enable-signing or be the buggy kind: re-sign when we can.
  let signature = kept.signature;
  if (
    signPub !== undefined &&
    (signature === undefined || !verifyMasterPubSignature(signPub, kept.masterPub, signature)) &&
    signPem !== undefined
  ) {
    signature = signMasterPub(signPem, kept.masterPub);
  }
  const restoredFingerprint = pemFinger(kept.masterPub, st.hashType);
  const changes: PlannedChange[] = [
    {
      action: 'replace-key-pair',
      target: paths.masterPem,
      detail: `put back the pair kept by rotation ${record.id} (${restoredFingerprint})`,
    },
    ...(signature !== undefined
      ? [
          {
            action: 'write-signature' as const,
            target: paths.signature,
            detail: 'signature of the restored master.pub',
          },
        ]
      : []),
    {
      action: 'restart-service',
      target: o.service.name,
      detail: `restart, then wait up to ${Math.round(o.waitMs / 1000)} s for the minions`,
    },
  ];
  const base = {
    rotationId: record.id,
    restoredFingerprint,
    replacedFingerprint: currentPub ? pemFinger(currentPub, st.hashType) : null,
    changes,
    answered: [],
    missing: [],
    waitedMs: 0,
  };
  if (o.dryRun) return { dryRun: true, ...base };
  const lock = await acquireLock(join(o.rotationsDir, '.lock'), { purpose: 'keys rotate --rollback' });
  try {
    await restorePair(paths, { masterPem: kept.masterPem, masterPub: kept.masterPub, signature });
    o.fault?.reached('rollback/restored');
    try {
      await o.service.restart();
    } catch (err) {
      throw new KeysError(
        'KEYS_ROTATE_FAILED',
        `the old key pair is back but ${o.service.name} did not restart: ${(err as Error).message}`,
        {
          cause: err,
          hint: `Start ${o.service.name} by hand; the restored key is already in place.`,
        },
      );
    }
    record.state = 'rolled-back';
    record.updatedAt = new Date(o.clock.now()).toISOString();
    await saveRecord(o.rotationsDir, record);
    const accepted = (await listMinionKeys(o.pkiDir)).accepted;
    const wait = await waitForMinions(accepted, {
      probe: o.probe,
      clock: o.clock,
      waitMs: o.waitMs,
      ...(o.pollMs !== undefined ? { pollMs: o.pollMs } : {}),
      ...(o.logger ? { logger: o.logger } : {}),
    });
    return { dryRun: false, ...base, ...wait };
  } finally {
    await lock.release();
  }
}
