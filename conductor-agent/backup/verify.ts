/**
 * `verifyArchive`: re-check a backup end to end in one streaming pass and say exactly what differs:
 * the `.sha256` sidecar against the file, the manifest (present, first, parseable), and every member
 * against its manifest entry (type, size, mode, SHA-256), plus members missing or extra.
 *
 * A library function: it prints nothing and throws only when the archive cannot be opened at all
 * (ARCHIVE_NOT_FOUND) or an encrypted one comes without an identity. Everything else is a
 * {@link Difference} in the report, so restore's preflight can show all of them at once. An archive
 * made by hand with the seed's `tar -czf` has no manifest: it is reported as `unverified`, not as an
 * error, once it reads as a gzip'd tar.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { basename } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import {
  CHECKSUM_SUFFIX, ENCRYPTED_SUFFIX, MANIFEST_FORMAT, MANIFEST_NAME, MANIFEST_VERSION, type Manifest, type ManifestEntry,
} from '../../shared/backup/format.js';
import { ArchiveError, BackupError } from '../../shared/errors.js';
import { decryptStream, readIdentities } from './encrypt.js';
import type { SignatureCheck } from '../../shared/backup/signature.js';
import { judgeSignature, type SignatureDifferenceKind } from './signature-check.js';

export type DifferenceKind =
  | 'sidecar-mismatch' | 'sidecar-invalid' | 'corrupt' | 'decrypt-failed' | 'manifest-invalid' | 'manifest-not-first'
  | 'member-hash' | 'member-size' | 'member-type' | 'member-mode' | 'member-missing' | 'member-extra' | 'member-duplicate'
  | SignatureDifferenceKind;

export interface Difference {
  kind: DifferenceKind;
  /** Member name, when the difference is about one member. */
  path?: string;
  expected?: string | number;
  actual?: string | number;
  message: string;
}

export interface VerifyReport {
  archive: string;
  /** True when nothing differs (an unverified seed archive is ok: it read cleanly). */
  ok: boolean;
  /**
   * `verified`: manifest signed by a trusted key and everything matched; `unsigned`: everything matched but the
   * manifest is not signed (proves no origin); `unverified`: no manifest; `failed`.
   */
  status: 'verified' | 'unsigned' | 'unverified' | 'failed';
  /** The manifest's signature: who signed it and whether that key is trusted. */
  signature?: SignatureCheck;
  encrypted: boolean;
  /** SHA-256 of the archive file as stored (the encrypted file for `.age`). */
  sha256?: string;
  sidecar: 'ok' | 'mismatch' | 'missing' | 'invalid';
  manifest?: Omit<Manifest, 'entries'> & { entryCount: number };
  /** Members read (manifest excluded). */
  members: number;
  differences: Difference[];
  /** Notes that do not fail verification (e.g. no sidecar beside a seed-made archive). */
  notes: string[];
}

export interface VerifyOptions {
  /** age identity file for `.tar.gz.age` archives. */
  identityFile?: string | undefined;
  /** Keep the parsed manifest entries in the result (restore wants them). */
  keepEntries?: boolean;
  /** Fingerprints of trusted signers (signer.ts); undefined = check the signature's validity only. */
  trustedSigners?: ReadonlySet<string> | undefined;
}

export interface VerifyResult extends VerifyReport {
  /** The manifest's entries when `keepEntries` was set. */
  entries?: ManifestEntry[];
}

/** Shape check of a parsed manifest; returns problems (empty when fine). */
export function manifestProblems(m: unknown): string[] {
  const p: string[] = [];
  const o = m as Partial<Manifest> | null;
  if (!o || typeof o !== 'object') return ['not a JSON object'];
  if (o.format !== MANIFEST_FORMAT) p.push(`format is ${JSON.stringify(o.format)}, expected ${MANIFEST_FORMAT}`);
  if (o.formatVersion !== MANIFEST_VERSION) p.push(`formatVersion ${JSON.stringify(o.formatVersion)} is not supported (expected ${MANIFEST_VERSION})`);
  if (!Array.isArray(o.entries)) p.push('entries is not a list');
  else {
    o.entries.forEach((e, i) => {
      if (!e || typeof e.path !== 'string' || (e.type !== 'file' && e.type !== 'dir') || typeof e.size !== 'number' || typeof e.mode !== 'number') {
        p.push(`entry ${i} is malformed`);
      } else if (e.type === 'file' && !/^[0-9a-f]{64}$/.test(e.sha256 ?? '')) p.push(`entry ${e.path} has no valid sha256`);
    });
  }
  for (const k of ['host', 'node', 'createdAt'] as const) if (typeof o[k] !== 'string') p.push(`${k} is missing`);
  return p;
}

const norm = (p: string): string => p.replace(/^(\.\/)+/, '').replace(/\/+$/, '');

async function readSidecar(path: string): Promise<string | undefined | 'invalid'> {
  try {
    const m = /^([0-9a-f]{64})\s/i.exec(await fsp.readFile(path + CHECKSUM_SUFFIX, 'utf8'));
    return m ? m[1]!.toLowerCase() : 'invalid';
  } catch {
    return undefined;
  }
}

/** Verify `path`; see the module comment for what is checked. */
export async function verifyArchive(path: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  try {
    await fsp.access(path);
  } catch (err) {
    throw new ArchiveError('ARCHIVE_NOT_FOUND', `archive ${path} does not exist or cannot be read`, { cause: err, details: { path } });
  }
  const encrypted = path.endsWith(ENCRYPTED_SUFFIX);
  if (encrypted && !options.identityFile) {
    throw new BackupError('BACKUP_ENCRYPTION_FAILED', `${basename(path)} is encrypted: an age identity file is needed to verify it`, {
      details: { path }, hint: 'Pass --identity <file> with the private key matching one of backup.encrypt.recipients.',
    });
  }
  const identities = encrypted ? await readIdentities(options.identityFile!) : [];
  const report: VerifyResult = { archive: path, ok: false, status: 'failed', encrypted, sidecar: 'missing', members: 0, differences: [], notes: [] };
  const diff = (d: Difference): void => { report.differences.push(d); };

  const fileHash = createHash('sha256');
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  const tee = new PassThrough({ highWaterMark: 1 << 20 });
  raw.on('data', (c) => fileHash.update(c as Buffer));
  raw.on('error', (e) => tee.destroy(e));
  raw.pipe(tee);

  let manifest: Manifest | undefined;
  let expected: Map<string, ManifestEntry> | undefined;
  const seen = new Set<string>();
  let index = 0;
  try {
    const plain: Readable = encrypted ? await decryptStream(tee, identities) : tee;
    await new Promise<void>((resolve, reject) => {
      const gunzip = createGunzip();
      const parser = new Parser({ strict: false });
      const fail = (kind: DifferenceKind, e: Error): void => {
        diff({ kind, message: `${kind === 'decrypt-failed' ? 'decryption' : 'reading the archive'} failed: ${e.message}` });
        resolve();
      };
      plain.on('error', (e) => fail(encrypted ? 'decrypt-failed' : 'corrupt', e));
      gunzip.on('error', (e) => fail('corrupt', e));
      parser.on('warn', (code: string, message: string | Error) => {
        diff({ kind: 'corrupt', message: `tar: ${code}: ${typeof message === 'string' ? message : message.message}` });
      });
      parser.on('entry', (entry: ReadEntry) => {
        const name = norm(entry.path);
        const position = index++;
        if (name === MANIFEST_NAME) {
          const chunks: Buffer[] = [];
          entry.on('data', (c: Buffer) => chunks.push(c));
          entry.on('end', () => {
            if (position !== 0) diff({ kind: 'manifest-not-first', path: name, message: 'the manifest is not the first member' });
            try {
              const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Manifest;
              const problems = manifestProblems(parsed);
              if (problems.length) diff({ kind: 'manifest-invalid', path: name, message: `manifest: ${problems.join('; ')}` });
              else {
                manifest = parsed;
                expected = new Map(parsed.entries.map((e) => [norm(e.path), e]));
              }
            } catch (e) {
              diff({ kind: 'manifest-invalid', path: name, message: `manifest is not JSON: ${(e as Error).message}` });
            }
          });
          return;
        }
        report.members++;
        if (seen.has(name)) diff({ kind: 'member-duplicate', path: name, message: `${name} appears twice` });
        seen.add(name);
        const want = expected?.get(name);
        const h = createHash('sha256');
        let size = 0;
        entry.on('data', (c: Buffer) => { h.update(c); size += c.length; });
        entry.on('end', () => {
          if (!expected) return; // no manifest (yet): nothing to compare with
          if (!want) return diff({ kind: 'member-extra', path: name, message: `${name} is in the archive but not in the manifest` });
          const type = entry.type === 'Directory' ? 'dir' : entry.type === 'File' || entry.type === 'OldFile' ? 'file' : entry.type;
          if (type !== want.type) return diff({ kind: 'member-type', path: name, expected: want.type, actual: type, message: `${name} is a ${type}, the manifest says ${want.type}` });
          if ((entry.mode ?? 0) % 0o10000 !== want.mode % 0o10000) {
            diff({ kind: 'member-mode', path: name, expected: want.mode.toString(8), actual: (entry.mode ?? 0).toString(8), message: `${name} has mode ${(entry.mode ?? 0).toString(8)}, the manifest says ${want.mode.toString(8)}` });
          }
          if (want.type !== 'file') return;
          if (size !== want.size) diff({ kind: 'member-size', path: name, expected: want.size, actual: size, message: `${name} has ${size} bytes, the manifest says ${want.size}` });
          const got = h.digest('hex');
          if (got !== want.sha256) diff({ kind: 'member-hash', path: name, expected: want.sha256!, actual: got, message: `${name} does not match its SHA-256 in the manifest` });
        });
      });
      parser.on('end', () => resolve());
      parser.on('error', (e: Error) => fail('corrupt', e));
      plain.pipe(gunzip).pipe(parser);
    });
  } catch (err) {
    if (err instanceof BackupError && err.code === 'BACKUP_ENCRYPTION_FAILED') diff({ kind: 'decrypt-failed', message: err.message });
    else throw err;
  }
  // Drain the rest of the file for the whole-file hash even when reading stopped early.
  if (!raw.readableEnded && !raw.destroyed) {
    raw.unpipe(tee);
    raw.resume();
    await new Promise<void>((r) => { raw.once('end', r); raw.once('close', r); raw.once('error', () => r()); });
  }
  report.sha256 = fileHash.digest('hex');

  const side = await readSidecar(path);
  if (side === undefined) {
    report.sidecar = 'missing';
    report.notes.push(`no ${basename(path)}${CHECKSUM_SUFFIX} beside the archive: the file hash is not checked`);
  } else if (side === 'invalid') {
    report.sidecar = 'invalid';
    diff({ kind: 'sidecar-invalid', message: `${basename(path)}${CHECKSUM_SUFFIX} is not a sha256sum line` });
  } else if (side !== report.sha256) {
    report.sidecar = 'mismatch';
    diff({ kind: 'sidecar-mismatch', expected: side, actual: report.sha256, message: `the archive's SHA-256 does not match ${basename(path)}${CHECKSUM_SUFFIX}` });
  } else report.sidecar = 'ok';

  if (!manifest && report.members === 0 && !report.differences.length) {
    diff({ kind: 'corrupt', message: 'the archive holds no tar members' });
  }
  const corrupt = report.differences.some((d) => d.kind === 'corrupt' || d.kind === 'decrypt-failed');
  if (manifest && !corrupt) {
    for (const name of expected!.keys()) {
      if (!seen.has(name)) diff({ kind: 'member-missing', path: name, message: `${name} is in the manifest but not in the archive` });
    }
  }
  if (manifest) {
    const judged = judgeSignature(manifest, options.trustedSigners, path); // signature hook: the manifest as parsed
    report.signature = judged.check;
    if (judged.difference) diff({ ...judged.difference, path: MANIFEST_NAME });
    if (judged.check.status === 'unsigned') {
      report.notes.push(`${judged.check.message}: it proves no origin; restore asks for --yes`);
    }
    const { entries, signature: _signature, ...head } = manifest;
    report.manifest = { ...head, entryCount: entries.length };
    if (options.keepEntries) report.entries = entries;
  } else if (!report.differences.some((d) => d.kind === 'manifest-invalid')) {
    report.notes.push('no manifest: unverified (an archive made by hand, e.g. with the seed\'s tar -czf); it reads as a gzip\'d tar');
  }
  report.ok = report.differences.length === 0;
  const signed = report.signature?.status === 'signed';
  report.status = !report.ok ? 'failed' : !manifest ? 'unverified' : signed ? 'verified' : 'unsigned';
  return report;
}
