/**
 * The Salt master configuration, as far as the key lifecycle needs it: read the signing options
 * (YAML 1.1 like Salt's loader, so `yes`/`on` count as true), plan an edit that keeps comments and
 * every other key, and apply it atomically after a timestamped backup copy of the old file.
 */
import { promises as fsp } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { parseDocument, YAMLMap, type Document } from 'yaml';
import { KeysError } from '../../shared/errors.js';
import { writeFileAtomic } from '../../shared/fs/atomic.js';
import type { SaltHashType } from '../../shared/salt/fingerprint.js';

/** The master options that decide how master.pub is signed (reference/salt.md §5.1), with Salt's defaults applied. */
export interface MasterSigningSettings {
  /** `master_sign_pubkey` (default False): the master signs its public key in auth replies. */
  signPubkey: boolean;
  /** `master_use_pubkey_signature` (default False): send the precomputed signature file instead of signing. */
  usePubkeySignature: boolean;
  /** `master_sign_key_name` (default `master_sign`). */
  signKeyName: string;
  /** `master_pubkey_signature` (default `master_pubkey_signature` in 3006/3007), relative to pki_dir. */
  pubkeySignatureFile: string;
  /** `hash_type` (default sha256), used for fingerprints. */
  hashType: SaltHashType;
  /** `pki_dir` when the file sets it (compared against `salt.pkiDir`). */
  pkiDir: string | undefined;
}

export interface MasterConfigFile {
  path: string;
  /** The text as read ('' when the file does not exist). */
  text: string;
  exists: boolean;
  /** File mode to keep on rewrite. */
  mode: number;
  settings: MasterSigningSettings;
}

const HASH_TYPES: readonly SaltHashType[] = ['sha256', 'sha224', 'sha384', 'sha512', 'sha1', 'md5'];

function parse(path: string, text: string): Document {
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: false });
  if (doc.errors.length > 0) {
    throw new KeysError('KEYS_MASTER_CONFIG_INVALID', `${path} is not valid YAML: ${doc.errors[0]!.message}`, {
      details: { path },
      hint: 'Fix the Salt master configuration by hand (salt-master would not start with it either), then run again.',
    });
  }
  if (doc.contents !== null && !(doc.contents instanceof YAMLMap)) {
    throw new KeysError('KEYS_MASTER_CONFIG_INVALID', `${path} is not a YAML mapping`, { details: { path } });
  }
  return doc;
}

/** Salt's defaults applied to a parsed mapping (pure). */
export function signingSettingsOf(values: Record<string, unknown>): MasterSigningSettings {
  const str = (v: unknown, d: string): string => (typeof v === 'string' && v.trim() !== '' ? v.trim() : d);
  const hash = str(values.hash_type, 'sha256').toLowerCase();
  return {
    signPubkey: values.master_sign_pubkey === true,
    usePubkeySignature: values.master_use_pubkey_signature === true,
    signKeyName: str(values.master_sign_key_name, 'master_sign'),
    pubkeySignatureFile: str(values.master_pubkey_signature, 'master_pubkey_signature'),
    hashType: (HASH_TYPES as readonly string[]).includes(hash) ? (hash as SaltHashType) : 'sha256',
    pkiDir: typeof values.pki_dir === 'string' ? values.pki_dir : undefined,
  };
}

/** Parse master config text into signing settings (pure). */
export function parseMasterConfig(path: string, text: string): MasterSigningSettings {
  const js: unknown = parse(path, text).toJS();
  return signingSettingsOf(js && typeof js === 'object' ? (js as Record<string, unknown>) : {});
}

/** Read the master config; a missing file means Salt's defaults. */
export async function readMasterConfig(path: string): Promise<MasterConfigFile> {
  let text = '';
  let exists = true;
  let mode = 0o644;
  try {
    text = await fsp.readFile(path, 'utf8');
    mode = (await fsp.stat(path)).mode & 0o7777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new KeysError(
        'KEYS_MASTER_CONFIG_INVALID',
        `cannot read the Salt master config ${path}: ${(err as Error).message}`,
        { cause: err, details: { path } },
      );
    }
    exists = false;
  }
  return { path, text, exists, mode, settings: parseMasterConfig(path, text) };
}

/** One option change, for dry-run listings and reports. */
export interface ConfigOptionChange {
  key: string;
  from: unknown;
  to: unknown;
}

export interface MasterConfigEdit {
  path: string;
  /** The new file text (comments and other keys kept). */
  text: string;
  changes: ConfigOptionChange[];
}

/** Plan setting top-level options (pure). Options already at the wanted value are not changes. */
export function planMasterConfigEdit(
  path: string,
  text: string,
  set: Record<string, string | boolean>,
): MasterConfigEdit {
  const doc = parse(path, text);
  if (doc.contents === null) doc.contents = new YAMLMap();
  const changes: ConfigOptionChange[] = [];
  for (const [key, value] of Object.entries(set)) {
    const from: unknown = doc.get(key);
    if (from === value) continue;
    doc.set(key, value);
    changes.push({ key, from: from ?? null, to: value });
  }
  return { path, text: changes.length ? String(doc) : text, changes };
}

/** `master` → `master.ssr-recovery-20261124T112949Z.bak` beside it (not matched by Salt's `master.d/*.conf` include). */
export function backupPathFor(path: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  return join(dirname(path), `${basename(path)}.ssr-recovery-${stamp}.bak`);
}

/**
 * Apply a planned edit: copy the current file to a timestamped backup (same mode), then replace the
 * file atomically. Refuses when the file changed since it was read, so a concurrent edit is never lost.
 * Returns the backup path (undefined when there was no file).
 */
export async function applyMasterConfigEdit(
  current: MasterConfigFile,
  edit: MasterConfigEdit,
  at: Date,
): Promise<string | undefined> {
  if (edit.changes.length === 0) return undefined;
  const now = current.exists ? await fsp.readFile(current.path, 'utf8').catch(() => undefined) : undefined;
  if ((now ?? '') !== current.text || (now === undefined) === current.exists) {
    throw new KeysError('KEYS_REFUSED', `${current.path} changed while it was being edited; nothing was written`, {
      details: { path: current.path },
      hint: 'Run the command again.',
    });
  }
  let backup: string | undefined;
  if (current.exists) {
    backup = backupPathFor(current.path, at);
    await writeFileAtomic(backup, current.text, { mode: current.mode });
  }
  await writeFileAtomic(current.path, edit.text, { mode: current.mode });
  return backup;
}
