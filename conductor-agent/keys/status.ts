/**
 * `keys status`: what an operator (and `verify`, and the drill's report) needs to know about the
 * master key: its Salt fingerprint, whether signed master keys are on and consistent, and the minion
 * keys by status with the pending ones' fingerprints. Read-only.
 */
import { pemFinger, type SaltHashType } from '../../shared/salt/fingerprint.js';
import { readMasterConfig, type MasterSigningSettings } from './master-config.js';
import { listMinionKeys, masterKeyPaths, minionKeyPath, readMasterKeyFiles, readOptional } from './pki.js';
import { isKeyPair } from './rsa.js';
import { verifyMasterPubSignature } from './signature.js';

export interface MasterKeyStatusOptions {
  /** The master pki folder, already resolved under the root prefix. */
  pkiDir: string;
  /** The master config file, already resolved under the root prefix. */
  masterConfig: string;
}

export interface PendingKey {
  id: string;
  /** Salt fingerprint of the pending key; null when the file is not a PEM key. */
  fingerprint: string | null;
}

/** The status document (also the `--json` output of `keys status`). */
export interface MasterKeyStatus {
  pkiDir: string;
  masterConfig: string;
  hashType: SaltHashType;
  master: {
    publicKey: string;
    /** Salt fingerprint of master.pub (what minions pin as `master_finger`); null when missing. */
    fingerprint: string | null;
    privateKeyPresent: boolean;
    /** master.pem and master.pub form one pair; null when either is missing. */
    pairMatches: boolean | null;
  };
  signing: {
    /** `master_sign_pubkey` in the master config. */
    enabled: boolean;
    /** `master_use_pubkey_signature` (precomputed signature file). */
    precomputed: boolean;
    signKeyName: string;
    signPublicKey: string;
    signPublicKeyFingerprint: string | null;
    signPrivateKeyPresent: boolean;
    signatureFile: string;
    signaturePresent: boolean;
    /** The signature file verifies master.pub against the signing key; null when it cannot be checked. */
    signatureValid: boolean | null;
  };
  minions: { accepted: number; pending: number; rejected: number; denied: number };
  pending: PendingKey[];
  /** Inconsistencies worth acting on (e.g. signing on but key missing). */
  warnings: string[];
}

function fingerOrNull(pem: string | undefined, hashType: SaltHashType): string | null {
  if (pem === undefined) return null;
  try {
    return pemFinger(pem, hashType);
  } catch {
    return null;
  }
}

/** Pure: the warnings implied by a status (kept separate so the rules read as a list). */
export function statusWarnings(s: Omit<MasterKeyStatus, 'warnings'>, settings: MasterSigningSettings): string[] {
  const w: string[] = [];
  if (s.master.fingerprint === null) w.push(`${s.master.publicKey} is missing or not a PEM key`);
  if (s.master.pairMatches === false)
    w.push('master.pem and master.pub are not one key pair: minions will fail to authenticate');
  if (s.signing.enabled && !s.signing.precomputed && !s.signing.signPrivateKeyPresent) {
    w.push(
      `master_sign_pubkey is on but ${s.signing.signKeyName}.pem is missing: salt-master will create a new signing pair that minions do not trust`,
    );
  }
  if (s.signing.enabled && s.signing.precomputed && !s.signing.signaturePresent) {
    w.push(
      `master_use_pubkey_signature is on but ${s.signing.signatureFile} is missing: salt-master will exit at start`,
    );
  }
  if (s.signing.signatureValid === false) {
    w.push(
      `${s.signing.signatureFile} does not verify master.pub (stale, or made by salt-key --gen-signature with the trailing-newline bug)`,
    );
  }
  if (
    settings.pkiDir !== undefined &&
    settings.pkiDir.replace(/\/+$/, '') !== s.pkiDir.replace(/\/+$/, '') &&
    !s.pkiDir.endsWith(settings.pkiDir.replace(/\/+$/, ''))
  ) {
    w.push(`the master config sets pki_dir ${settings.pkiDir}, but salt.pkiDir is ${s.pkiDir}`);
  }
  return w;
}

/** Build the master key status from the pki folder and the master config. */
export async function masterKeyStatus(options: MasterKeyStatusOptions): Promise<MasterKeyStatus> {
  const { pkiDir, masterConfig } = options;
  const cfg = await readMasterConfig(masterConfig);
  const st = cfg.settings;
  const paths = masterKeyPaths(pkiDir, st.signKeyName, st.pubkeySignatureFile);
  const files = await readMasterKeyFiles(paths);
  const lists = await listMinionKeys(pkiDir);
  let pairMatches: boolean | null = null;
  if (files.masterPem !== undefined && files.masterPub !== undefined) {
    try {
      pairMatches = isKeyPair(files.masterPem, files.masterPub);
    } catch {
      pairMatches = false;
    }
  }
  const pending: PendingKey[] = [];
  for (const id of lists.pending) {
    pending.push({
      id,
      fingerprint: fingerOrNull(await readOptional(minionKeyPath(pkiDir, 'pending', id)), st.hashType),
    });
  }
  const signatureValid =
    files.signature !== undefined && files.signPub !== undefined && files.masterPub !== undefined
      ? verifyMasterPubSignature(files.signPub, files.masterPub, files.signature)
      : null;
  const base: Omit<MasterKeyStatus, 'warnings'> = {
    pkiDir,
    masterConfig,
    hashType: st.hashType,
    master: {
      publicKey: paths.masterPub,
      fingerprint: fingerOrNull(files.masterPub, st.hashType),
      privateKeyPresent: files.masterPem !== undefined,
      pairMatches,
    },
    signing: {
      enabled: st.signPubkey,
      precomputed: st.usePubkeySignature,
      signKeyName: st.signKeyName,
      signPublicKey: paths.signPub,
      signPublicKeyFingerprint: fingerOrNull(files.signPub, st.hashType),
      signPrivateKeyPresent: files.signPem !== undefined,
      signatureFile: paths.signature,
      signaturePresent: files.signature !== undefined,
      signatureValid,
    },
    minions: {
      accepted: lists.accepted.length,
      pending: lists.pending.length,
      rejected: lists.rejected.length,
      denied: lists.denied.length,
    },
    pending,
  };
  return { ...base, warnings: statusWarnings(base, st) };
}
