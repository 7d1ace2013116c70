/**
 * `verifyArchive`: re-check a backup end to end in one streaming pass and say exactly what differs:
 * the `.sha256` sidecar against the file, the manifest (present, first, parseable), and every member
 * against its manifest entry (type, size, mode, SHA-256), plus members missing or extra.
 *
 * It reads through the one archive reader (archive-reader.ts) under the same member-safety rules
 * and allowlist restore applies (shared/backup/member-rules.ts, shared/backup/file-set.ts): an
 * archive that verifies is one restore accepts. Where restore stops at the first refusal, verify
 * writes nothing and goes on, so it reports every difference at once; each carries the stable
 * error code restore would refuse with.
 *
 * A library function: it prints nothing and throws only when the archive cannot be opened at all
 * (ARCHIVE_NOT_FOUND) or an encrypted one comes without an identity. An archive made by hand with
 * the seed's `tar -czf` has no manifest: it is reported as `unverified`, not as an error, once it
 * reads as a gzip'd tar within the rules.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { basename } from 'node:path';
import type { ReadEntry } from 'tar';
import { allowlistOf, fileSetConfigOf, type Allowlist } from '../../shared/backup/file-set.js';
import {
  CHECKSUM_SUFFIX,
  ENCRYPTED_SUFFIX,
  MANIFEST_NAME,
  memberNameFor,
  systemPathFor,
  type Manifest,
  type ManifestEntry,
} from '../../shared/backup/format.js';
import type { CheckedMember } from '../../shared/backup/member-rules.js';
import { conductorSchema } from '../../shared/config/schema.js';
import { ArchiveError, BackupError, RecoveryError } from '../../shared/errors.js';
import { readSidecar } from '../restore/archive-source.js';
import type { AsyncJsonCheck } from '../restore/json-check-async.js';
import { readArchive, type ArchiveRead } from './archive-reader.js';
import { ContentChecks } from './verify-content.js';
import type { SignatureCheck } from '../../shared/backup/signature.js';
import { judgeSignature, type SignatureDifferenceKind } from './signature-check.js';

export type DifferenceKind =
  | 'sidecar-mismatch'
  | 'sidecar-invalid'
  | 'corrupt'
  | 'decrypt-failed'
  | 'manifest-invalid'
  | 'manifest-not-first'
  | 'member-hash'
  | 'member-size'
  | 'member-type'
  | 'member-mode'
  | 'member-missing'
  | 'member-extra'
  | 'member-duplicate'
  | 'member-unsafe'
  | 'too-large'
  | 'content'
  | SignatureDifferenceKind;

export interface Difference {
  kind: DifferenceKind;
  /** The stable error code restore refuses this with. */
  code: string;
  /** `details.reason` of that error, when it has one (`link-private-area`, `mode-mismatch`, …). */
  reason?: string;
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
  /** The restore set to check members against (default: the file set of the default configuration). */
  allowlist?: Allowlist | undefined;
  /** Fingerprints of trusted signers (signer.ts); undefined = check the signature's validity only. */
  trustedSigners?: ReadonlySet<string> | undefined;
}

export interface VerifyResult extends VerifyReport {
  /** The manifest's entries when `keepEntries` was set. */
  entries?: ManifestEntry[];
}

const norm = (p: string): string => p.replace(/^(\.\/)+/, '').replace(/\/+$/, '');

/** Verify `path`; see the module comment for what is checked. */
export async function verifyArchive(path: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  await mustExist(path);
  if (path.endsWith(ENCRYPTED_SUFFIX) && !options.identityFile) {
    const says = `${basename(path)} is encrypted: an age identity file is needed to verify it`;
    throw new BackupError('BACKUP_ENCRYPTION_FAILED', says, {
      details: { path },
      hint: 'Pass --identity <file> with the private key matching one of backup.encrypt.recipients.',
    });
  }
  const report: VerifyResult = {
    archive: path,
    ok: false,
    status: 'failed',
    encrypted: path.endsWith(ENCRYPTED_SUFFIX),
    sidecar: 'missing',
    members: 0,
    differences: [],
    notes: [],
  };
  const allowlist = options.allowlist ?? defaultAllowlist();
  const checker = new MemberVerifier(report, allowlist);
  let read: ArchiveRead | undefined;
  try {
    read = await readArchive({
      archive: path,
      identityFile: options.identityFile,
      allowlist,
      visitor: checker.visitor(),
    });
    await checker.settle(read.manifest);
  } catch (err) {
    checker.abort();
    report.differences.push(differenceOf(err));
  }
  report.encrypted = read?.encrypted ?? report.encrypted;
  report.sha256 = read?.archiveSha256 ?? (await fileSha256(path));
  report.members = read?.members ?? checker.count;
  await checkSidecar(path, report);
  if (read) for (const p of read.missing) checker.missing(p);
  summarise(report, read?.manifest, options, read?.manifestBytes, path);
  return report;
}

async function mustExist(path: string): Promise<void> {
  const st = await fsp.stat(path).catch((err: unknown) => err as Error);
  if (st instanceof Error || !st.isFile()) {
    throw new ArchiveError('ARCHIVE_NOT_FOUND', `archive ${path} does not exist or is not a file`, {
      cause: st instanceof Error ? st : undefined,
      details: { path },
      hint: 'Give the path of a conductor-backup-….tar.gz (or .tar.gz.age) file.',
    });
  }
}

const defaultAllowlist = (): Allowlist => allowlistOf(fileSetConfigOf(conductorSchema.parse({})));

/** Hashes every accepted member and records every refusal as a difference. */
class MemberVerifier {
  count = 0;
  private readonly refusedPaths = new Set<string>();
  private readonly pending: Promise<void>[] = [];
  private readonly json: AsyncJsonCheck[] = [];
  private readonly content: ContentChecks;
  constructor(
    private readonly report: VerifyResult,
    allowlist: Allowlist,
  ) {
    this.content = new ContentChecks(allowlist);
  }

  visitor() {
    return {
      member: (m: CheckedMember, e: ReadEntry) => this.member(m, e),
      refused: (err: RecoveryError, member: string | undefined): 'continue' => {
        this.count++;
        const d = differenceOf(err, member);
        if (d.path) this.refusedPaths.add(systemPathFor(d.path));
        if (d.path) this.content.refused(systemPathFor(d.path));
        this.report.differences.push(d);
        return 'continue';
      },
    };
  }

  missing(systemPath: string): void {
    if (this.refusedPaths.has(systemPath)) return;
    const name = memberNameFor(systemPath);
    this.report.differences.push({
      kind: 'member-missing',
      code: 'ARCHIVE_HASH_MISMATCH',
      reason: 'missing-member',
      path: name,
      message: `${name} is in the manifest but not in the archive`,
    });
  }

  private member(m: CheckedMember, e: ReadEntry): void {
    this.count++;
    if (m.kind !== 'file') return void e.resume();
    const json = this.content.datastore(m.path, m.size);
    if (json) this.json.push(json);
    const kept: Buffer[] | undefined = this.content.wants(m.path, m.size) ? [] : undefined;
    // The JSON worker hashes a datastore on its own core; other members are hashed here.
    const h = json?.hashes ? undefined : createHash('sha256');
    let size = 0;
    e.on('data', (c: Buffer) => {
      size += c.length;
      h?.update(c);
      json?.write(c);
      kept?.push(c);
    });
    e.on('end', () => {
      if (kept) this.content.keep(m.path, Buffer.concat(kept));
      const sha = json ? this.content.checked(m.path, json) : Promise.resolve(h!.digest('hex'));
      this.pending.push(sha.then((got) => this.compare(m, size, got ?? h?.digest('hex'))));
    });
  }

  private compare(m: CheckedMember, size: number, got: string | undefined): void {
    const want = m.entry;
    if (!want) return;
    const name = memberNameFor(m.path);
    const diff = (d: Omit<Difference, 'code' | 'path'>): void => {
      this.report.differences.push({ ...d, code: 'ARCHIVE_HASH_MISMATCH', path: name });
    };
    if (size !== want.size) {
      const message = `${name} has ${size} bytes, the manifest says ${want.size}`;
      diff({ kind: 'member-size', reason: 'member-size', expected: want.size, actual: size, message });
    }
    if (got !== want.sha256) {
      const message = `${name} does not match its SHA-256 in the manifest`;
      diff({ kind: 'member-hash', reason: 'member-hash', expected: want.sha256!, actual: got ?? '', message });
    }
  }

  /** After a complete read: member hashes from the JSON workers, then the content checks. */
  async settle(manifest: Manifest | undefined): Promise<void> {
    await Promise.all(this.pending);
    for (const p of await this.content.problems(manifest)) {
      const path = p.path ? { path: memberNameFor(p.path) } : {};
      this.report.differences.push({ kind: 'content', code: p.code, reason: p.reason, ...path, message: p.message });
    }
  }

  /** After a failed read: stop the JSON workers. */
  abort(): void {
    for (const j of this.json) j.abort();
  }
}

const KIND_OF_REASON: Record<string, DifferenceKind> = {
  'unexpected-member': 'member-extra',
  'type-mismatch': 'member-type',
  'mode-mismatch': 'member-mode',
  'duplicate-member': 'member-duplicate',
  'member-larger-than-manifest': 'member-size',
};

/** A refusal (or a read that failed) as a difference with restore's code. */
function differenceOf(err: unknown, member?: string): Difference {
  if (!(err instanceof RecoveryError)) {
    const message = `reading the archive failed: ${(err as Error).message}`;
    return { kind: 'corrupt', code: 'ARCHIVE_CORRUPT', message };
  }
  const reason = typeof err.details.reason === 'string' ? err.details.reason : undefined;
  const path = member !== undefined ? norm(member) : undefined;
  const base = { code: err.code, ...(reason ? { reason } : {}), ...(path ? { path } : {}), message: err.message };
  if (path && basename(path) === MANIFEST_NAME && err.code === 'ARCHIVE_UNSAFE_MEMBER') {
    return { ...base, kind: 'manifest-not-first' };
  }
  if (err.code === 'ARCHIVE_MANIFEST_INVALID') return { ...base, kind: 'manifest-invalid' };
  if (err.code === 'BACKUP_ENCRYPTION_FAILED') return { ...base, kind: 'decrypt-failed' };
  if (err.code === 'ARCHIVE_CORRUPT') return { ...base, kind: 'corrupt' };
  if (reason && KIND_OF_REASON[reason]) return { ...base, kind: KIND_OF_REASON[reason]! };
  if (err.code === 'ARCHIVE_TOO_LARGE') return { ...base, kind: 'too-large' };
  return { ...base, kind: 'member-unsafe' };
}

async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function checkSidecar(path: string, report: VerifyResult): Promise<void> {
  const name = `${basename(path)}${CHECKSUM_SUFFIX}`;
  let side: string | undefined;
  try {
    side = await readSidecar(path);
  } catch (err) {
    report.sidecar = 'invalid';
    const message = (err as Error).message;
    report.differences.push({
      kind: 'sidecar-invalid',
      code: 'ARCHIVE_HASH_MISMATCH',
      reason: 'sidecar-invalid',
      message,
    });
    return;
  }
  if (side === undefined) {
    report.sidecar = 'missing';
    report.notes.push(`no ${name} beside the archive: the file hash is not checked`);
  } else if (side !== report.sha256) {
    report.sidecar = 'mismatch';
    report.differences.push({
      kind: 'sidecar-mismatch',
      code: 'ARCHIVE_HASH_MISMATCH',
      reason: 'sidecar-mismatch',
      expected: side,
      actual: report.sha256,
      message: `the archive's SHA-256 does not match ${name}`,
    });
  } else report.sidecar = 'ok';
}

function summarise(
  report: VerifyResult,
  manifest: Manifest | undefined,
  options: VerifyOptions,
  bytes: Buffer | undefined,
  path: string,
): void {
  if (manifest) {
    // Signature hook: judged on the manifest as parsed from the archive's bytes, not a validated copy.
    const raw = bytes ? (JSON.parse(bytes.toString('utf8')) as unknown) : manifest;
    const judged = judgeSignature(raw, options.trustedSigners, path);
    report.signature = judged.check;
    if (judged.difference) {
      const code =
        judged.difference.kind === 'signer-untrusted'
          ? 'ARCHIVE_SIGNER_UNTRUSTED'
          : judged.difference.kind === 'name-mismatch'
            ? 'ARCHIVE_NAME_MISMATCH'
            : 'ARCHIVE_SIGNATURE_INVALID';
      report.differences.push({ ...judged.difference, code, path: MANIFEST_NAME });
    }
    if (judged.check.status === 'unsigned') {
      report.notes.push(`${judged.check.message}: it proves no origin; restore asks for --yes`);
    }
    const { entries, signature: _signature, ...head } = manifest as Manifest & { signature?: unknown };
    report.manifest = { ...head, entryCount: entries.length };
    if (options.keepEntries) report.entries = entries;
  } else if (!report.differences.some((d) => d.kind === 'manifest-invalid')) {
    report.notes.push(
      "no manifest: unverified (an archive made by hand, e.g. with the seed's tar -czf); " + "it reads as a gzip'd tar",
    );
  }
  report.ok = report.differences.length === 0;
  const signed = report.signature?.status === 'signed';
  report.status = !report.ok ? 'failed' : !manifest ? 'unverified' : signed ? 'verified' : 'unsigned';
}
