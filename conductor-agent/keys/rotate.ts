/**
 * `keys rotate`: a planned master key change with zero router touch (reference/salt.md §5.3). With
 * signed master keys on, minions that verify with our `master_sign.pub` accept a new `master.pub`
 * signed by it and overwrite their cached key themselves. Steps: preflight (signing on, pair sound,
 * every accepted minion ready — or `force`), keep the old pair for rollback, write the new pair and
 * its signature (newline-stripped PEM), restart salt-master, wait for minions, report who is missing.
 * Any failure before the restart completes puts the old pair back.
 */
import { join } from 'node:path';
import { KeysError, RecoveryError } from '../../shared/errors.js';
import type { FaultSwitch } from '../../shared/fault.js';
import { writeFileAtomic } from '../../shared/fs/atomic.js';
import { acquireLock } from '../../shared/fs/lock.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { ServiceControl } from '../../shared/ports/service-control.js';
import type { Logger } from '../../shared/log/logger.js';
import { pemFinger } from '../../shared/salt/fingerprint.js';
import type { PlannedChange } from './changes.js';
import { readMasterConfig, type MasterSigningSettings } from './master-config.js';
import type { MinionProbe, SigningReport } from './minion-probe.js';
import { listMinionKeys, masterKeyPaths, readMasterKeyFiles, readOptional, type MasterKeyFiles } from './pki.js';
import { evaluateReadiness, type Readiness } from './readiness.js';
import { keepOldPair, rotationIdFor, saveRecord, type RotationRecord } from './rotation-store.js';
import { generateSaltKeyPair, isKeyPair, type PemKeyPair } from './rsa.js';
import { signMasterPub } from './signature.js';
import { waitForMinions } from './wait-for-minions.js';

export interface RotateOptions {
  pkiDir: string;
  masterConfig: string;
  /** Folder for kept pairs (`keys.rotationsDir`). */
  rotationsDir: string;
  service: ServiceControl;
  probe: MinionProbe;
  clock: Clock;
  /** How long to wait for minions after the restart. */
  waitMs: number;
  pollMs?: number;
  /** Rotate even when some minions are not shown to verify signatures (they will drop off). */
  force?: boolean;
  dryRun?: boolean;
  /** The signing private key when it is kept off the pki folder (precomputed-signature setups). */
  signKeyFile?: string;
  generatePair?: () => Promise<PemKeyPair>;
  logger?: Logger;
  /** Kill -9 points for the fault suite (`SSR_RECOVERY_KEYS_FAULT`, shared/fault.ts). */
  fault?: FaultSwitch;
}

export interface RotateReport {
  dryRun: boolean;
  rotationId: string | null;
  oldFingerprint: string;
  newFingerprint: string | null;
  changes: PlannedChange[];
  readiness: Readiness;
  forced: boolean;
  /** Minions that answered the restarted master (they follow the new key). */
  answered: string[];
  /** Accepted minions that did not answer within the wait. */
  missing: string[];
  waitedMs: number;
}

export interface RotationPreflightInput {
  settings: MasterSigningSettings;
  files: MasterKeyFiles;
  signPem: string | undefined;
  readiness: Readiness;
  force: boolean;
}

/** Pure preflight: throws the refusal, or returns the old fingerprint. */
export function rotationPreflight(i: RotationPreflightInput): string {
  if (!i.settings.signPubkey) {
    throw new KeysError(
      'KEYS_SIGNING_DISABLED',
      'master_sign_pubkey is not on: minions would refuse a new master key',
      {
        hint: 'Run `conductor-agent keys enable-signing`, roll verify_master_pubkey_sign out to the minions, restart, then rotate.',
      },
    );
  }
  if (i.files.masterPem === undefined || i.files.masterPub === undefined) {
    throw new KeysError('KEYS_REFUSED', 'master.pem or master.pub is missing; there is nothing to keep for rollback', {
      hint: 'Restore the master key pair first.',
    });
  }
  if (!isKeyPair(i.files.masterPem, i.files.masterPub)) {
    throw new KeysError(
      'KEYS_PAIR_MISMATCH',
      'master.pem and master.pub are not one key pair; fix that before rotating',
      {
        hint:
          'If a rotation was interrupted, `conductor-agent keys rotate --rollback` puts its kept pair back; ' +
          'otherwise restore the pair from a backup.',
      },
    );
  }
  if (i.signPem === undefined || i.files.signPub === undefined) {
    throw new KeysError(
      'KEYS_REFUSED',
      `${i.settings.signKeyName}.pem/.pub are not both available: the new key could not be signed with the key minions trust`,
      {
        hint: 'Restore the signing pair, or pass --sign-key with the signing private key.',
      },
    );
  }
  if (!isKeyPair(i.signPem, i.files.signPub)) {
    throw new KeysError('KEYS_PAIR_MISMATCH', `the signing private key does not match ${i.settings.signKeyName}.pub`, {
      hint: 'Use the private key that belongs to the master_sign.pub minions hold.',
    });
  }
  if (i.readiness.notReady.length > 0 && !i.force) {
    throw new KeysError(
      'KEYS_MINIONS_NOT_READY',
      `${i.readiness.notReady.length} minion(s) have not shown that they verify signed master keys; they would drop off after the rotation`,
      {
        details: { notReady: i.readiness.notReady.slice(0, 200), notReadyCount: i.readiness.notReady.length },
        hint: 'Roll master_sign.pub + verify_master_pubkey_sign out to them (and restart them), lift master_finger pins, or rotate with --force and re-authenticate the rest with `conductor-agent reauth`.',
      },
    );
  }
  return pemFinger(i.files.masterPub, i.settings.hashType);
}

/** Rotate the master key pair (see module comment). */
export async function rotateMasterKey(o: RotateOptions): Promise<RotateReport> {
  const log = o.logger?.child({ component: 'keys.rotate' });
  const cfg = await readMasterConfig(o.masterConfig);
  const st = cfg.settings;
  const paths = masterKeyPaths(o.pkiDir, st.signKeyName, st.pubkeySignatureFile);
  const files = await readMasterKeyFiles(paths);
  const signPem = o.signKeyFile ? await readOptional(o.signKeyFile) : files.signPem;
  const accepted = (await listMinionKeys(o.pkiDir)).accepted;
  const signFinger = files.signPub !== undefined ? pemFinger(files.signPub, 'sha256') : '';
  // Key and config checks first: they need no minion and must refuse even when salt-api is down.
  rotationPreflight({ settings: st, files, signPem, readiness: { ready: [], notReady: [] }, force: false });
  let reports: Map<string, SigningReport> = new Map();
  try {
    reports = await o.probe.signingReports(accepted);
  } catch (err) {
    // Without answers nobody counts as ready; only --force may go on (and then reports them all).
    if (o.force !== true) throw err;
    log?.warn('could not ask the minions; every minion counts as not ready', { error: (err as Error).message });
  }
  const readiness = evaluateReadiness(accepted, reports, signFinger);
  const oldFingerprint = rotationPreflight({ settings: st, files, signPem, readiness, force: o.force === true });
  const id = rotationIdFor(new Date(o.clock.now()));
  const keepDir = join(o.rotationsDir, id);
  const changes: PlannedChange[] = [
    {
      action: 'backup',
      target: keepDir,
      detail: 'keep the current master.pem/master.pub (and signature) for rollback',
    },
    {
      action: 'replace-key-pair',
      target: paths.masterPem,
      detail: `new RSA pair replaces master.pem (0600) and master.pub (current ${oldFingerprint})`,
    },
    {
      action: 'write-signature',
      target: paths.signature,
      detail: `signature of the new master.pub by ${st.signKeyName}.pem (newline-stripped PEM)`,
    },
    {
      action: 'restart-service',
      target: o.service.name,
      detail: `restart, then wait up to ${Math.round(o.waitMs / 1000)} s for ${accepted.length} minion(s)`,
    },
  ];
  const base = {
    rotationId: null,
    oldFingerprint,
    newFingerprint: null,
    changes,
    readiness,
    forced: o.force === true && readiness.notReady.length > 0,
    answered: [],
    missing: [],
    waitedMs: 0,
  };
  if (o.dryRun) return { dryRun: true, ...base };

  const lock = await acquireLock(join(o.rotationsDir, '.lock'), { purpose: 'keys rotate' });
  try {
    const nowIso = (): string => new Date(o.clock.now()).toISOString();
    const record: RotationRecord = {
      id,
      createdAt: nowIso(),
      pkiDir: o.pkiDir,
      oldFingerprint,
      newFingerprint: null,
      signatureFile: paths.signature,
      state: 'prepared',
      updatedAt: nowIso(),
    };
    await keepOldPair(o.rotationsDir, record, files);
    o.fault?.reached('rotate/kept');
    const pair = await (o.generatePair ?? generateSaltKeyPair)();
    const signature = signMasterPub(signPem!, pair.publicKey);
    record.newFingerprint = pemFinger(pair.publicKey, st.hashType);
    log?.info('rotating master key', { rotationId: id, oldFingerprint, newFingerprint: record.newFingerprint });
    try {
      await writeFileAtomic(paths.masterPem, pair.privateKey, { mode: 0o600 });
      o.fault?.reached('rotate/master-pem');
      await writeFileAtomic(paths.masterPub, pair.publicKey, { mode: 0o644 });
      o.fault?.reached('rotate/master-pub');
      await writeFileAtomic(paths.signature, signature, { mode: 0o644 });
      o.fault?.reached('rotate/signature');
      record.state = 'applied';
      record.updatedAt = nowIso();
      await saveRecord(o.rotationsDir, record);
      o.fault?.reached('rotate/applied');
      await o.service.restart();
      o.fault?.reached('rotate/restarted');
    } catch (err) {
      await restorePair(paths, files);
      await o.service.restart().catch(() => undefined);
      record.state = 'failed';
      record.updatedAt = nowIso();
      await saveRecord(o.rotationsDir, record).catch(() => undefined);
      throw new KeysError(
        'KEYS_ROTATE_FAILED',
        `rotation failed and the old key pair was put back: ${(err as Error).message}`,
        {
          cause: err,
          details: { rotationId: id, ...(err instanceof RecoveryError ? { causeCode: err.code } : {}) },
          hint: `Check ${o.service.name} (the old key is in place again) and run keys status.`,
        },
      );
    }
    const wait = await waitForMinions(accepted, {
      probe: o.probe,
      clock: o.clock,
      waitMs: o.waitMs,
      ...(o.pollMs !== undefined ? { pollMs: o.pollMs } : {}),
      ...(log ? { logger: log } : {}),
    });
    return { dryRun: false, ...base, rotationId: id, newFingerprint: record.newFingerprint, ...wait };
  } finally {
    await lock.release();
  }
}

/** Put a pair (and its signature) back in the pki folder. */
export async function restorePair(
  paths: ReturnType<typeof masterKeyPaths>,
  old: { masterPem?: string | undefined; masterPub?: string | undefined; signature?: string | undefined },
): Promise<void> {
  if (old.masterPem !== undefined) await writeFileAtomic(paths.masterPem, old.masterPem, { mode: 0o600 });
  if (old.masterPub !== undefined) await writeFileAtomic(paths.masterPub, old.masterPub, { mode: 0o644 });
  if (old.signature !== undefined) await writeFileAtomic(paths.signature, old.signature, { mode: 0o644 });
}
