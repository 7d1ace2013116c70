/**
 * `backup list`: every backup-like file in the folder with its age, size, node and check state.
 * The default check compares each archive with its `.sha256` sidecar (one read of each archive);
 * `deep` runs the full {@link verifyArchive}.
 */
import { promises as fsp } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { Allowlist } from '../../shared/backup/file-set.js';
import { CHECKSUM_SUFFIX } from '../../shared/backup/format.js';
import { BackupError } from '../../shared/errors.js';
import { sha256File } from './commit.js';
import { isBackupFileName, parseArchiveName } from './naming.js';
import { readManifestRaw } from './read-manifest.js';
import { verifyArchive } from './verify.js';
import { judgeSignature } from './signature-check.js';
import type { SignatureStatus } from '../../shared/backup/signature.js';

export interface BackupListing {
  name: string;
  path: string;
  size: number;
  /** From the name for our archives, else the file's mtime. */
  createdAt: string;
  ageSeconds: number;
  /** `ours` (named with a timestamp) or `hand-made` (e.g. the seed's `tar -czf`). */
  kind: 'ours' | 'hand-made';
  encrypted: boolean;
  host?: string | undefined;
  node?: string | undefined;
  /** `ok` / `mismatch` / `missing` sidecar, or `not-checked`. */
  sidecar: 'ok' | 'mismatch' | 'missing' | 'not-checked';
  /** Full verification result with `deep`. */
  verified?: 'verified' | 'unsigned' | 'unverified' | 'failed' | 'needs-identity';
  /** The manifest's signature: signed (by a trusted key), unsigned, invalid, untrusted. */
  signature?: SignatureStatus | 'renamed' | undefined;
  /** Fingerprint of the key that signed the manifest. */
  signer?: string | undefined;
  differences?: number;
  /** The last restore-test of this archive (`backup verify --restore-test`, or the daemon after a backup). */
  restoreTest?: { ok: boolean; at: string } | undefined;
}

export interface ListOptions {
  host?: string;
  now?: () => Date;
  check?: 'none' | 'sidecar' | 'deep';
  identityFile?: string | undefined;
  /** The restore set `deep` checks members against (restore's, from the configuration). */
  allowlist?: Allowlist | undefined;
  /** Sidecar results kept between calls, keyed by name, size and time (the daemon's status page lists often). */
  sidecarMemo?: Map<string, BackupListing['sidecar']>;
  /** Remembered restore-test results by archive name (restore-test.ts readRestoreTests). */
  restoreTests?: Readonly<Record<string, { ok: boolean; at: string }>>;
  /** Fingerprints of trusted signers (signer.ts); undefined = validity only. */
  trustedSigners?: ReadonlySet<string> | undefined;
}

/** Newest first. */
export async function listBackups(dir: string, options: ListOptions = {}): Promise<BackupListing[]> {
  const host = options.host ?? osHostname();
  const now = (options.now ?? (() => new Date()))().getTime();
  const check = options.check ?? 'sidecar';
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (err) {
    // A missing folder is an error, not "no backups": a typo in --root/--dir must not look like an empty list.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new BackupError('BACKUP_DIR_NOT_FOUND', `the backup folder ${dir} does not exist`, {
        cause: err,
        details: { dir },
        hint: 'Check --root, --dir and backup.dir; a conductor that never made a backup has an empty folder, not none.',
      });
    }
    throw new BackupError('BACKUP_FAILED', `cannot list the backup folder ${dir}: ${(err as Error).message}`, {
      cause: err,
      details: { dir },
    });
  }
  const out: BackupListing[] = [];
  for (const name of names.filter(isBackupFileName)) {
    const path = join(dir, name);
    const st = await fsp.stat(path).catch(() => undefined);
    if (!st?.isFile()) continue;
    const parsed = parseArchiveName(name, host);
    const created = parsed?.createdAt ?? st.mtime;
    const item: BackupListing = {
      name,
      path,
      size: st.size,
      createdAt: created.toISOString(),
      ageSeconds: Math.max(0, Math.round((now - created.getTime()) / 1000)),
      kind: parsed ? 'ours' : 'hand-made',
      encrypted: name.endsWith('.age'),
      host: parsed?.host,
      node: parsed?.node,
      sidecar: 'not-checked',
    };
    if (!item.encrypted && parsed) {
      const read = await readManifestRaw(path);
      if (read) {
        const m = read.manifest;
        Object.assign(item, { host: m.host, node: m.node });
        const { check: sig, difference } = judgeSignature(read.raw, options.trustedSigners, path);
        const signature = difference?.kind === 'name-mismatch' ? 'renamed' : sig.status;
        Object.assign(item, { signature, signer: sig.fingerprint });
      }
    }
    if (check === 'sidecar') {
      const side = await fsp.readFile(path + CHECKSUM_SUFFIX, 'utf8').catch(() => undefined);
      const key = `${name}:${st.size}:${st.mtimeMs}:${side?.trim() ?? ''}`;
      const known = options.sidecarMemo?.get(key);
      if (side === undefined) item.sidecar = 'missing';
      else if (known === 'ok' || known === 'mismatch') item.sidecar = known;
      else item.sidecar = side.trim().split(/\s+/)[0]?.toLowerCase() === (await sha256File(path)) ? 'ok' : 'mismatch';
      if (item.sidecar !== 'missing') options.sidecarMemo?.set(key, item.sidecar);
    } else if (check === 'deep') {
      if (item.encrypted && !options.identityFile) item.verified = 'needs-identity';
      else {
        const { identityFile, trustedSigners, allowlist } = options;
        const v = await verifyArchive(path, { identityFile, trustedSigners, allowlist });
        item.verified = v.status;
        item.differences = v.differences.length;
        if (v.signature) Object.assign(item, { signature: v.signature.status, signer: v.signature.fingerprint });
        item.sidecar = v.sidecar === 'invalid' ? 'mismatch' : v.sidecar;
      }
    }
    const tested = options.restoreTests?.[name];
    if (tested) item.restoreTest = { ok: tested.ok, at: tested.at };
    out.push(item);
  }
  return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.name.localeCompare(a.name));
}
