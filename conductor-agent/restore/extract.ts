/**
 * Single-pass extraction of a backup archive into a fresh staging folder: the writing side only.
 * The one archive reader (backup/archive-reader.ts) reads the archive and applies the
 * member-safety rules (shared/backup/member-rules.ts) before a member reaches this file; here
 * every checked member is written under staging, its SHA-256 computed while writing and compared
 * with the manifest at the member's end. Every write is ours, so nothing outside staging can be
 * touched, whatever the archive says. Any refusal rejects with an ArchiveError once no write can
 * still land; the caller removes the staging folder, so the target tree is never touched.
 */
import { createHash, type Hash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { posix } from 'node:path';
import type { ReadEntry } from 'tar';
import type { Manifest } from '../../shared/backup/format.js';
import { contentDisagreement, type CheckedMember, type TargetLookup } from '../../shared/backup/member-rules.js';
import { RecoveryError } from '../../shared/errors.js';
import { DEFAULT_LIMITS, readArchive, type ArchiveRead, type ReaderLimits } from '../backup/archive-reader.js';
import type { Allowlist } from './allowlist.js';
import { startJsonCheck, type AsyncJsonCheck } from './json-check-async.js';
import { sharedChunks } from './shared-chunks.js';
import { inlineStagingWriter, STAGING_HIGH_WATER, workerStagingWriter, type StagingWriter } from './staging-writer.js';
import type { OwnerIds } from './owner-ids.js';
import type { StagedMember } from './types.js';

export type ExtractLimits = ReaderLimits;
export { DEFAULT_LIMITS };

export interface ExtractOptions {
  archive: string;
  /** A fresh, empty folder (0700) on the target's file system; members land at `<staging><system path>`. */
  staging: string;
  allowlist: Allowlist;
  owners: OwnerIds;
  /** The target as it is, for the physical walk of links (default: nothing there). */
  target?: TargetLookup | undefined;
  limits?: Partial<ExtractLimits>;
  identityFile?: string | undefined;
  /** System paths whose JSON syntax is checked while they stream (datastores). */
  jsonPaths?: ReadonlySet<string>;
  /** The manifest preflight already parsed, with its bytes: reused when the archive carries the same bytes. */
  knownManifest?: { bytes: Buffer; manifest: Manifest } | undefined;
  /** Where the writes run (default: a writer worker on another core). */
  writer?: 'worker' | 'inline';
  /** Start writing large files back to disk as soon as they are staged (when a flush follows). */
  earlyWriteback?: boolean;
}

export interface ExtractResult {
  manifest: Manifest | undefined;
  members: StagedMember[];
  /** SHA-256 of the archive file as read (compare with the `.sha256` sidecar). */
  archiveSha256: string;
  compressedBytes: number;
  uncompressedBytes: number;
  /** System path → JSON syntax error, for `jsonPaths` that did not parse. */
  jsonErrors: Map<string, string>;
  /** Modes that were tightened (private files and folders). */
  tightened: string[];
  encrypted: boolean;
  /** Settles (never rejects) when the early writeback of large staged files is done. */
  writeback: Promise<void>;
}

/** Files at least this large get an early writeback. */
const EARLY_WRITEBACK_BYTES = 8 << 20;

/** Extract `archive` into `staging`; throws an ArchiveError (or BACKUP_ENCRYPTION_FAILED) on any refusal. */
export async function extractToStaging(o: ExtractOptions): Promise<ExtractResult> {
  const sink = new StagingSink(o);
  let read: ArchiveRead;
  try {
    read = await readArchive({
      archive: o.archive,
      identityFile: o.identityFile,
      allowlist: o.allowlist,
      target: o.target,
      limits: o.limits,
      knownManifest: o.knownManifest,
      visitor: sink.visitor(),
    });
  } catch (err) {
    // Reject only once no write can still land in staging (the caller removes it).
    await sink.abort();
    throw err;
  }
  try {
    await sink.finish();
  } catch (err) {
    await sink.abort();
    throw err;
  }
  return {
    manifest: read.manifest,
    members: sink.members,
    writeback: sink.writeback(),
    archiveSha256: read.archiveSha256,
    compressedBytes: read.compressedBytes,
    uncompressedBytes: read.uncompressedBytes,
    jsonErrors: sink.jsonErrors,
    tightened: sink.tightened,
    encrypted: read.encrypted,
  };
}

/**
 * Writes checked members under staging: folders, links and files (hashed, JSON-checked) through
 * the staging writer, with its backlog as the reader's backpressure.
 */
class StagingSink {
  readonly members: StagedMember[] = [];
  readonly jsonErrors = new Map<string, string>();
  readonly tightened: string[] = [];
  private readonly byPath = new Map<string, StagedMember>();
  private readonly dirsToFinish: StagedMember[] = [];
  private readonly pendingJson: Promise<void>[] = [];
  private readonly jsonChecks: AsyncJsonCheck[] = [];
  private readonly made = new Set<string>();
  // Large files (the running config) are written back to disk as soon as they are staged, on the
  // thread pool, while the small files are still being created: the flush before `staged` then has
  // little left to write. Only a head start: durability still comes from that flush.
  private readonly writebacks: Promise<void>[] = [];
  // One copy of each data chunk, read by the writer and the JSON check in place.
  private readonly chunks = sharedChunks();
  private readonly writer: StagingWriter;
  private abortRead: (err: unknown) => void = () => undefined;
  private failed = false;

  constructor(private readonly o: ExtractOptions) {
    const onClosed = (path: string): void => {
      this.writebacks.push(startWriteback(path));
    };
    this.writer = o.writer === 'inline' ? inlineStagingWriter({ onClosed }) : workerStagingWriter({ onClosed });
  }

  visitor() {
    return {
      bind: (abort: (err: unknown) => void) => {
        this.abortRead = abort;
      },
      member: (m: CheckedMember, e: ReadEntry) => this.member(m, e),
      backpressure: () => (this.writer.backlog() > STAGING_HIGH_WATER ? this.writer.drained() : undefined),
    };
  }

  private fail(err: unknown): void {
    this.failed = true;
    this.abortRead(err);
  }

  private staged(p: string): string {
    return this.o.staging + p;
  }

  private member(m: CheckedMember, e: ReadEntry): void {
    const s = this.stagedMember(m, e);
    this.byPath.set(s.path, s);
    this.members.push(s);
    if (m.mode !== m.recordedMode) this.tightened.push(s.path);
    if (s.kind === 'dir') {
      this.writer.push({ op: 'mkdir', path: this.staged(s.path) });
      this.made.add(s.path);
      this.dirsToFinish.push(s);
      return void e.resume();
    }
    this.ensureParent(s.path);
    if (s.kind === 'symlink') {
      this.writer.push({ op: 'symlink', target: s.linkTarget!, path: this.staged(s.path), uid: s.uid, gid: s.gid });
      return void e.resume();
    }
    if (s.kind === 'hardlink') {
      const t = this.byPath.get(s.linkTarget!)!;
      Object.assign(s, { size: t.size, sha256: t.sha256, mode: t.mode, uid: t.uid, gid: t.gid, mtime: t.mtime });
      this.writer.push({ op: 'link', existing: this.staged(t.path), path: this.staged(s.path) });
      return void e.resume();
    }
    this.writeFile(e, s, m);
  }

  /** Owner, group and time as recorded (manifest first, else the header). */
  private stagedMember(m: CheckedMember, e: ReadEntry): StagedMember {
    const r = m.entry;
    const uid = this.o.owners.uid(r?.owner ?? e.uname, r?.uid ?? e.uid ?? 0);
    const gid = this.o.owners.gid(r?.group ?? e.gname, r?.gid ?? e.gid ?? 0);
    const mtime = r ? Math.floor(Date.parse(r.mtime) / 1000) : Math.floor((e.mtime?.getTime() ?? 0) / 1000);
    return {
      path: m.path,
      kind: m.kind,
      size: m.size,
      mode: m.mode,
      uid,
      gid,
      mtime: Number.isFinite(mtime) ? mtime : 0,
      ...(m.linkTarget !== undefined ? { linkTarget: m.linkTarget } : {}),
    };
  }

  private ensureParent(p: string): void {
    const d = posix.dirname(p);
    if (this.made.has(d)) return;
    this.writer.push({ op: 'mkdir', path: this.staged(d) });
    this.made.add(d);
  }

  private writeFile(e: ReadEntry, s: StagedMember, m: CheckedMember): void {
    const json = this.o.jsonPaths?.has(s.path) ? startJsonCheck(s.size) : undefined;
    if (json) this.jsonChecks.push(json);
    // A JSON worker hashes the bytes it checks (the running config: most of the archive's bytes)
    // on its own core; the small files are hashed here. The writer's core is kept for the file
    // system calls (it is the busier of the two while the 12,000 small files are created).
    const hash: Hash | undefined = json?.hashes ? undefined : createHash('sha256');
    this.writer.push({ op: 'open', path: this.staged(s.path), mode: s.mode });
    let written = 0;
    e.on('data', (c: Buffer) => {
      if (this.failed) return;
      written += c.length;
      hash?.update(c);
      const shared = this.chunks.copy(c);
      json?.write(shared);
      this.writer.push({ op: 'data', data: shared });
    });
    e.on('end', () => {
      if (this.failed) return;
      if (hash) s.sha256 = hash.digest('hex');
      const wrong = contentDisagreement(s.path, m.entry, written, hash ? s.sha256 : undefined);
      if (wrong) return this.fail(wrong);
      if (json) this.checkJson(json, s, m, written);
      const early = this.o.earlyWriteback === true && written >= EARLY_WRITEBACK_BYTES;
      const report = early ? { report: this.staged(s.path) } : {};
      this.writer.push({ op: 'close', uid: s.uid, gid: s.gid, mode: s.mode, mtime: s.mtime, ...report });
    });
  }

  private checkJson(json: AsyncJsonCheck, s: StagedMember, m: CheckedMember, written: number): void {
    const checked = json.end().then(({ error, sha256 }) => {
      if (error !== undefined) this.jsonErrors.set(s.path, error);
      if (!json.hashes) return;
      s.sha256 = sha256;
      const wrong = contentDisagreement(s.path, m.entry, written, sha256);
      if (wrong) throw wrong;
    });
    // Awaited when extraction ends; after an earlier refusal nobody awaits it.
    checked.catch(() => undefined);
    this.pendingJson.push(checked);
  }

  /** After the read: folder modes (last: a 0500 folder set early would refuse its own children), writes, JSON. */
  async finish(): Promise<void> {
    for (const d of [...this.dirsToFinish].reverse()) {
      const { uid, gid, mode, mtime } = d;
      this.writer.push({ op: 'dirmeta', path: this.staged(d.path), uid, gid, mode, mtime });
    }
    try {
      await this.writer.finish();
    } catch (err) {
      throw writeFailed(this.o.staging, err);
    }
    await Promise.all(this.pendingJson);
    // Hard links share their target's content (a JSON-checked target's hash is known now).
    for (const mem of this.members) {
      if (mem.kind === 'hardlink' && mem.linkTarget) mem.sha256 = this.byPath.get(mem.linkTarget)?.sha256;
    }
  }

  async abort(): Promise<void> {
    this.failed = true;
    for (const j of this.jsonChecks) j.abort();
    await this.writer.abort();
  }

  writeback(): Promise<void> {
    return Promise.all(this.writebacks).then(() => undefined);
  }
}

/** fdatasync `path` on the thread pool; a failure only loses the head start (the flush follows). */
async function startWriteback(path: string): Promise<void> {
  try {
    const fh = await fsp.open(path, 'r');
    try {
      await fh.datasync();
    } finally {
      await fh.close();
    }
  } catch {
    // The flush before `staged` makes the file durable.
  }
}

function writeFailed(path: string, err: unknown): RecoveryError {
  const code = (err as NodeJS.ErrnoException).code;
  return new RecoveryError('FS_WRITE_FAILED', `cannot stage ${path}: ${(err as Error).message}`, {
    cause: err,
    details: { path, errno: code },
    hint:
      code === 'ENOSPC'
        ? 'The disk is full: free space on the file system holding the restore journal, then run restore again.'
        : 'Check the restore journal folder is writable.',
  });
}
