/**
 * `keys enable-signing`: switch the master to signed master public keys (reference/salt.md §5) so a
 * later key change needs no router touch. Plan (pure) → apply:
 *  - create the `master_sign` pair if missing (never replace one: minions may already trust it),
 *  - write the signature of master.pub over the newline-stripped PEM (the `--gen-signature` bug, §10),
 *  - set `master_sign_pubkey: True` (and, with `precomputed`, `master_use_pubkey_signature: True`)
 *    in the master config: atomic edit, timestamped backup,
 *  - export `master_sign.pub` for the router side (salt states copy it to each minion's pki folder).
 * The master is not restarted here: signing starts at its next restart, which must be coordinated
 * with the minions (check_auth_deps: both sides must agree, §5.2) — see docs/decisions.md.
 */
import { join } from 'node:path';
import { KeysError } from '../../shared/errors.js';
import type { FaultSwitch } from '../../shared/fault.js';
import { ensureDir, PRIVATE_DIR_MODE, writeFileAtomic } from '../../shared/fs/atomic.js';
import { acquireLock } from '../../shared/fs/lock.js';
import { pemFinger } from '../../shared/salt/fingerprint.js';
import type { PlannedChange } from './changes.js';
import {
  applyMasterConfigEdit,
  backupPathFor,
  planMasterConfigEdit,
  readMasterConfig,
  type MasterConfigFile,
} from './master-config.js';
import { masterKeyPaths, readMasterKeyFiles, readOptional, type MasterKeyFiles } from './pki.js';
import { generateSaltKeyPair, isKeyPair, publicKeyOf, type PemKeyPair } from './rsa.js';
import { signMasterPub, verifyMasterPubSignature } from './signature.js';

export interface EnableSigningOptions {
  pkiDir: string;
  masterConfig: string;
  /** Folder receiving `<signKeyName>.pub` for the router side. */
  exportDir: string;
  /** Also switch the master to the precomputed signature file (`master_use_pubkey_signature`). */
  precomputed?: boolean;
  dryRun?: boolean;
  now?: () => Date;
  /** Injected in tests; default generates a 2048-bit RSA pair. */
  generatePair?: () => Promise<PemKeyPair>;
  /** Lock shared with `keys rotate` so the two never interleave (the CLI passes `<rotationsDir>/.lock`). */
  lockPath?: string;
  /** Kill -9 points for the fault suite (`SSR_RECOVERY_KEYS_FAULT`, shared/fault.ts). */
  fault?: FaultSwitch;
}

export interface EnableSigningSnapshot {
  config: MasterConfigFile;
  files: MasterKeyFiles;
  paths: ReturnType<typeof masterKeyPaths>;
  exportPath: string;
  exported: string | undefined;
}

export interface EnableSigningPlan {
  createSignPair: boolean;
  /** Derive the missing master_sign.pub from master_sign.pem. */
  writeSignPub: boolean;
  writeSignature: boolean;
  configEdit: ReturnType<typeof planMasterConfigEdit>;
  exportSignPub: boolean;
  changes: PlannedChange[];
}

export interface EnableSigningReport {
  dryRun: boolean;
  changes: PlannedChange[];
  configBackup: string | undefined;
  signPublicKey: string;
  /** Salt fingerprint of master_sign.pub (null in a dry run that would create it). */
  signPublicKeyFingerprint: string | null;
  exportedTo: string;
  /** What the operator must do before the master starts signing. */
  nextSteps: string[];
}

/** Pure: decide every change from what is on disk. */
export function planEnableSigning(s: EnableSigningSnapshot, precomputed: boolean, now: Date): EnableSigningPlan {
  const { files, paths } = s;
  if (files.masterPub === undefined) {
    throw new KeysError('KEYS_REFUSED', `${paths.masterPub} is missing: there is no master key to sign`, {
      hint: 'Start salt-master once (it creates its key pair) or restore the key pair, then run again.',
    });
  }
  if (files.signPem === undefined && files.signPub !== undefined) {
    throw new KeysError(
      'KEYS_REFUSED',
      `${paths.signPub} exists without ${paths.signPem}: minions may trust a signing key whose private half is gone`,
      {
        hint: `Restore ${paths.signPem} from a backup. To start over with a new signing key, move ${paths.signPub} away first (every minion then needs the new one).`,
      },
    );
  }
  if (files.signPem !== undefined && files.signPub !== undefined && !isKeyPair(files.signPem, files.signPub)) {
    throw new KeysError('KEYS_PAIR_MISMATCH', `${paths.signPem} and ${paths.signPub} are not one key pair`, {
      hint: 'Restore the matching pair from a backup; nothing was changed.',
    });
  }
  const changes: PlannedChange[] = [];
  const createSignPair = files.signPem === undefined;
  const writeSignPub = !createSignPair && files.signPub === undefined;
  if (createSignPair)
    changes.push({
      action: 'create-key-pair',
      target: paths.signPem,
      detail: `new RSA signing pair (${paths.signPem} 0600, ${paths.signPub} 0644)`,
    });
  if (writeSignPub)
    changes.push({
      action: 'write-public-key',
      target: paths.signPub,
      detail: 'derived from the existing signing private key',
    });
  const signatureOk =
    !createSignPair &&
    files.signature !== undefined &&
    verifyMasterPubSignature(files.signPub ?? publicKeyOf(files.signPem!), files.masterPub, files.signature);
  const writeSignature = !signatureOk;
  if (writeSignature) {
    changes.push({
      action: 'write-signature',
      target: paths.signature,
      detail:
        files.signature === undefined
          ? 'signature of master.pub (newline-stripped PEM, PKCS1v15-SHA1, base64)'
          : 'replace a signature that does not verify master.pub',
    });
  }
  const set: Record<string, boolean> = { master_sign_pubkey: true };
  if (precomputed) set.master_use_pubkey_signature = true;
  const configEdit = planMasterConfigEdit(s.config.path, s.config.text, set);
  if (configEdit.changes.length > 0) {
    if (s.config.exists)
      changes.push({
        action: 'backup',
        target: backupPathFor(s.config.path, now),
        detail: `copy of ${s.config.path} before the edit`,
      });
    for (const c of configEdit.changes)
      changes.push({
        action: 'edit-config',
        target: s.config.path,
        detail: `${c.key}: ${JSON.stringify(c.from)} -> ${JSON.stringify(c.to)}`,
      });
  }
  const signPubText = files.signPub ?? (files.signPem !== undefined ? publicKeyOf(files.signPem) : undefined);
  const exportSignPub = signPubText === undefined || s.exported !== signPubText;
  if (exportSignPub)
    changes.push({
      action: 'export',
      target: s.exportPath,
      detail: 'master_sign.pub for the router side (minion pki folder)',
    });
  return { createSignPair, writeSignPub, writeSignature, configEdit, exportSignPub, changes };
}

/** Read what the plan needs. */
export async function snapshotForSigning(
  options: Pick<EnableSigningOptions, 'pkiDir' | 'masterConfig' | 'exportDir'>,
): Promise<EnableSigningSnapshot> {
  const config = await readMasterConfig(options.masterConfig);
  const paths = masterKeyPaths(options.pkiDir, config.settings.signKeyName, config.settings.pubkeySignatureFile);
  const files = await readMasterKeyFiles(paths);
  const exportPath = join(options.exportDir, `${config.settings.signKeyName}.pub`);
  return { config, files, paths, exportPath, exported: await readOptional(exportPath) };
}

export const NEXT_STEPS_SIGNING = [
  'Give every minion the exported master_sign.pub (in its pki folder) and verify_master_pubkey_sign: True (the ssr_recovery router state does both).',
  'Restart salt-master and the minions together: a minion that does not verify fails auth against a signing master, and a verifying minion fails against a master that does not sign (Salt check_auth_deps).',
  'Then `keys rotate` can change the master key with no router touch.',
];

/** Plan and (unless dry run) apply. Idempotent: a second run changes nothing. */
export async function enableSigning(options: EnableSigningOptions): Promise<EnableSigningReport> {
  const lock =
    options.lockPath && !options.dryRun
      ? await acquireLock(options.lockPath, { purpose: 'keys enable-signing' })
      : undefined;
  try {
    return await enableSigningLocked(options);
  } finally {
    await lock?.release();
  }
}

async function enableSigningLocked(options: EnableSigningOptions): Promise<EnableSigningReport> {
  const now = options.now?.() ?? new Date();
  const snap = await snapshotForSigning(options);
  const plan = planEnableSigning(snap, options.precomputed === true, now);
  const { files, paths } = snap;
  const report = (signPub: string | undefined, backup: string | undefined): EnableSigningReport => ({
    dryRun: options.dryRun === true,
    changes: plan.changes,
    configBackup: backup,
    signPublicKey: paths.signPub,
    signPublicKeyFingerprint: signPub === undefined ? null : pemFinger(signPub, snap.config.settings.hashType),
    exportedTo: snap.exportPath,
    nextSteps: NEXT_STEPS_SIGNING,
  });
  if (options.dryRun)
    return report(files.signPub ?? (files.signPem ? publicKeyOf(files.signPem) : undefined), undefined);

  let signPem = files.signPem;
  let signPub = files.signPub;
  if (plan.createSignPair) {
    const pair = await (options.generatePair ?? generateSaltKeyPair)();
    await ensureDir(options.pkiDir, PRIVATE_DIR_MODE);
    // Private half first: a crash after it leaves a pair that the next run completes.
    await writeFileAtomic(paths.signPem, pair.privateKey, { mode: 0o600 });
    options.fault?.reached('signing/sign-pem');
    await writeFileAtomic(paths.signPub, pair.publicKey, { mode: 0o644 });
    options.fault?.reached('signing/sign-pub');
    signPem = pair.privateKey;
    signPub = pair.publicKey;
  } else if (plan.writeSignPub) {
    signPub = publicKeyOf(signPem!);
    await writeFileAtomic(paths.signPub, signPub, { mode: 0o644 });
  }
  if (plan.writeSignature)
    await writeFileAtomic(paths.signature, signMasterPub(signPem!, files.masterPub!), { mode: 0o644 });
  options.fault?.reached('signing/signature');
  const backup = await applyMasterConfigEdit(snap.config, plan.configEdit, now);
  options.fault?.reached('signing/config');
  if (plan.exportSignPub || plan.createSignPair)
    await writeFileAtomic(snap.exportPath, signPub!, { mode: 0o644, dirMode: 0o755 });
  return report(signPub, backup);
}
