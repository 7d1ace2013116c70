/**
 * Where `keys rotate` keeps the previous master key pair for rollback: one 0700 folder per rotation
 * under `keys.rotationsDir` (default `<agents.stateDir>/keys/rotations`, which backups include),
 * holding the old `master.pem` (0600), `master.pub`, the old signature file if any, and
 * `rotation.json` (fingerprints and state; no key material).
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { KeysError } from '../../shared/errors.js';
import { ensureDir, PRIVATE_DIR_MODE, writeFileAtomic } from '../../shared/fs/atomic.js';
import type { MasterKeyFiles } from './pki.js';
import { readOptional } from './pki.js';

export type RotationState = 'prepared' | 'applied' | 'rolled-back' | 'failed';

export interface RotationRecord {
  id: string;
  createdAt: string;
  pkiDir: string;
  oldFingerprint: string;
  newFingerprint: string | null;
  /** The signature file path in the pki folder (restored on rollback). */
  signatureFile: string;
  state: RotationState;
  updatedAt: string;
}

export interface KeptPair {
  masterPem: string;
  masterPub: string;
  signature: string | undefined;
}

const RECORD = 'rotation.json';

/** `2026-11-24T11:29:49.123Z` → `20261124T112949Z`. */
export function rotationIdFor(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** Create the rotation folder with the old pair, refusing to reuse an id. */
export async function keepOldPair(
  rotationsDir: string,
  record: RotationRecord,
  old: Pick<MasterKeyFiles, 'masterPem' | 'masterPub' | 'signature'>,
): Promise<string> {
  await ensureDir(rotationsDir, PRIVATE_DIR_MODE);
  const dir = join(rotationsDir, record.id);
  try {
    await fsp.mkdir(dir, { mode: PRIVATE_DIR_MODE });
  } catch (err) {
    throw new KeysError('KEYS_ROTATE_FAILED', `rotation folder ${dir} already exists`, {
      cause: err,
      hint: 'Wait a second and run again.',
    });
  }
  await writeFileAtomic(join(dir, 'master.pem'), old.masterPem!, { mode: 0o600 });
  await writeFileAtomic(join(dir, 'master.pub'), old.masterPub!, { mode: 0o600 });
  if (old.signature !== undefined)
    await writeFileAtomic(join(dir, 'master_pubkey_signature'), old.signature, { mode: 0o600 });
  await saveRecord(rotationsDir, record);
  return dir;
}

export async function saveRecord(rotationsDir: string, record: RotationRecord): Promise<void> {
  await writeFileAtomic(join(rotationsDir, record.id, RECORD), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
}

/** Every rotation record, newest first. */
export async function listRotations(rotationsDir: string): Promise<RotationRecord[]> {
  let names: string[];
  try {
    names = await fsp.readdir(rotationsDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: RotationRecord[] = [];
  for (const n of names.sort().reverse()) {
    const text = await readOptional(join(rotationsDir, n, RECORD)).catch(() => undefined);
    if (!text) continue;
    try {
      out.push(JSON.parse(text) as RotationRecord);
    } catch {
      /* a half-written record is not a rollback target */
    }
  }
  return out;
}

/** The rotation to roll back: the named one, else the newest that was applied. */
export async function findRollbackTarget(rotationsDir: string, id?: string): Promise<RotationRecord> {
  const all = await listRotations(rotationsDir);
  const r = id ? all.find((x) => x.id === id) : all.find((x) => x.state === 'applied' || x.state === 'prepared');
  if (!r) {
    throw new KeysError(
      'KEYS_ROTATION_NOT_FOUND',
      id ? `no rotation ${id} in ${rotationsDir}` : `no applied rotation to roll back in ${rotationsDir}`,
      {
        details: { rotationsDir, known: all.map((x) => ({ id: x.id, state: x.state })) },
        hint: 'List the rotation folders and pass one with --rotation-id.',
      },
    );
  }
  return r;
}

/** Read the kept pair of a rotation. */
export async function readKeptPair(rotationsDir: string, id: string): Promise<KeptPair> {
  const dir = join(rotationsDir, id);
  const [masterPem, masterPub, signature] = await Promise.all(
    ['master.pem', 'master.pub', 'master_pubkey_signature'].map((f) => readOptional(join(dir, f))),
  );
  if (masterPem === undefined || masterPub === undefined) {
    throw new KeysError('KEYS_ROTATION_NOT_FOUND', `rotation ${id} does not hold a complete key pair`, {
      details: { dir },
    });
  }
  return { masterPem, masterPub, signature };
}
