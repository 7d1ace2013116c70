/**
 * The one archive reader: `restore` (extract.ts), `backup verify`, restore's peek and
 * `backup list`'s manifest look all read archives through it. It is plumbing only — file bytes
 * (hashed for the `.sha256` sidecar, decrypted for `.age`), gunzip, node-tar's parser, size and
 * ratio limits, backpressure, the manifest as first member — and hands every member to the
 * member-safety rules (shared/backup/member-rules.ts) before its visitor sees it. A visitor only
 * ever sees checked members, so what verify accepts is what restore would write.
 *
 * Manifest-reading entry point: the first member is parsed by `parseManifest` (restore/manifest-check.ts)
 * in {@link ReaderRun.readManifest}; hooks on the manifest belong there.
 */
import { createGunzip, type Gunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { MANIFEST_NAME, type Manifest } from '../../shared/backup/format.js';
import type { Allowlist } from '../../shared/backup/file-set.js';
import {
  MemberRules,
  missingMembers,
  unsafeMember,
  type CheckedMember,
  type TargetLookup,
} from '../../shared/backup/member-rules.js';
import { ArchiveError, RecoveryError } from '../../shared/errors.js';
import { openArchive, type ArchiveSource } from '../restore/archive-source.js';
import { manifestIndex, parseManifest } from '../restore/manifest-check.js';

export interface ReaderLimits {
  /** Refuse once the uncompressed tar stream exceeds this many bytes. */
  maxTotalBytes: number;
  /** Refuse when uncompressed/compressed exceeds this (after `ratioGraceBytes`). */
  maxRatio: number;
  ratioGraceBytes: number;
  /** Largest manifest accepted. */
  maxManifestBytes: number;
}

export const DEFAULT_LIMITS: ReaderLimits = {
  maxTotalBytes: 16 * 1024 ** 3,
  maxRatio: 200,
  ratioGraceBytes: 16 * 1024 ** 2,
  maxManifestBytes: 64 * 1024 ** 2,
};

export interface ArchiveVisitor {
  /** A checked member; the visitor must consume `e` (read its data, or `e.resume()`). */
  member?: (m: CheckedMember, e: ReadEntry) => void;
  /**
   * A member or manifest the rules refused. Return `continue` to go on reading (verify: it writes
   * nothing and reports every difference); without this hook the first refusal ends the read.
   */
  refused?: (err: RecoveryError, member: string | undefined) => 'continue' | 'stop';
  /** Resolves when the visitor can take more (bounded memory); undefined = go on now. */
  backpressure?: () => Promise<void> | undefined;
  /** Called once with a function that ends the read with an error (a member's content disagreed). */
  bind?: (abort: (err: unknown) => void) => void;
}

export interface ReadArchiveOptions {
  archive: string;
  identityFile?: string | undefined;
  /** The restore set (default: empty, every member refused; `firstOnly` readers need none). */
  allowlist?: Allowlist | undefined;
  /** The target as it is (restore), for the physical walk of links; undefined = empty (verify). */
  target?: TargetLookup | undefined;
  limits?: Partial<ReaderLimits> | undefined;
  /** A manifest already parsed from the same bytes (restore's peek): reused, not parsed again. */
  knownManifest?: { bytes: Buffer; manifest: Manifest } | undefined;
  /** Stop after the first member (peek, `backup list`). */
  firstOnly?: boolean;
  visitor?: ArchiveVisitor;
}

export interface ArchiveRead {
  manifest: Manifest | undefined;
  manifestBytes?: Buffer | undefined;
  /** Name of the first member (the manifest's, or a seed archive's first file). */
  firstMember: string | undefined;
  /** Members after the manifest that reached the rules (accepted or refused). */
  members: number;
  /** Manifest entries the archive lacks (empty with `firstOnly`). */
  missing: string[];
  /** SHA-256 of the archive file as read (complete unless `firstOnly`). */
  archiveSha256: string;
  compressedBytes: number;
  uncompressedBytes: number;
  encrypted: boolean;
  fileSize: number;
}

/** Read `archive` once, end to end (or its first member); throws the first refusal unless the visitor continues. */
export async function readArchive(o: ReadArchiveOptions): Promise<ArchiveRead> {
  const src = await openArchive(o.archive, { identityFile: o.identityFile });
  return new ReaderRun(o, src).run();
}

const NOTHING_ALLOWED: Allowlist = {
  files: new Set(),
  trees: [],
  privateAreas: [],
  fileRoots: [],
  regularFiles: new Set(),
};

/** A manifest (the first member's name) as GNU tar or we write it. */
const isManifestName = (name: string): boolean => name.replace(/^(\.\/)+/, '') === MANIFEST_NAME;

class ReaderRun {
  private readonly limits: ReaderLimits;
  private readonly gunzip: Gunzip = createGunzip({ chunkSize: 1 << 18 });
  private readonly parser = new Parser({ strict: true });
  private rules: MemberRules | undefined;
  private manifest: Manifest | undefined;
  private manifestBytes: Buffer | undefined;
  private firstMember: string | undefined;
  private entries = 0;
  private members = 0;
  private uncompressed = 0;
  private failure: unknown;
  private settled = false;
  private resolve!: (r: ArchiveRead) => void;
  private reject!: (err: unknown) => void;

  constructor(
    private readonly o: ReadArchiveOptions,
    private readonly src: ArchiveSource,
  ) {
    const given = Object.entries(o.limits ?? {}).filter(([, v]) => v !== undefined);
    this.limits = { ...DEFAULT_LIMITS, ...Object.fromEntries(given) };
  }

  run(): Promise<ArchiveRead> {
    return new Promise<ArchiveRead>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      this.o.visitor?.bind?.((err) => this.fail(err));
      this.parser.on('entry', (e: ReadEntry) => this.onEntry(e));
      this.parser.on('ignoredEntry', (e: ReadEntry) => this.onIgnored(e));
      // strict: node-tar reports every problem as 'warn' or 'error' carrying a tar code.
      this.parser.on('warn', (code: string, m: string | Error) => {
        this.fail(this.tarProblem(code, m instanceof Error ? m.message : m));
      });
      this.parser.on('error', (err: Error & { tarCode?: string }) => {
        this.fail(this.tarProblem(err.tarCode, err.message));
      });
      this.parser.on('end', () => this.onEnd());
      this.src.stream.on('error', (err) => this.fail(err));
      this.gunzip.on('error', (err) => this.fail(err));
      this.gunzip.on('data', (c: Buffer) => this.onData(c));
      this.gunzip.on('end', () => {
        if (this.failure === undefined) this.parser.end();
      });
      this.src.stream.pipe(this.gunzip);
    });
  }

  private onData(c: Buffer): void {
    if (this.failure !== undefined || this.settled) return;
    this.uncompressed += c.length;
    const limitError = this.overLimit();
    if (limitError) return this.fail(limitError);
    if (!this.parser.write(c)) {
      this.gunzip.pause();
      this.parser.once('drain', () => this.gunzip.resume());
      return;
    }
    const wait = this.o.visitor?.backpressure?.();
    if (wait) {
      this.gunzip.pause();
      void wait.then(() => this.gunzip.resume());
    }
  }

  private overLimit(): ArchiveError | undefined {
    const l = this.limits;
    if (this.uncompressed > l.maxTotalBytes) {
      return new ArchiveError('ARCHIVE_TOO_LARGE', `the archive expands beyond ${l.maxTotalBytes} bytes`, {
        details: { reason: 'total-size', limit: l.maxTotalBytes },
        hint: 'Nothing was changed. Raise restore.maxTotalBytes only if this backup is really that large.',
      });
    }
    if (this.uncompressed > l.ratioGraceBytes && this.uncompressed / Math.max(1, this.src.bytesRead()) > l.maxRatio) {
      const says = `the archive expands more than ${l.maxRatio}× (a decompression bomb?)`;
      return new ArchiveError('ARCHIVE_TOO_LARGE', says, {
        details: { reason: 'compression-ratio', limit: l.maxRatio },
        hint: 'Nothing was changed. Raise restore.maxRatio only if you trust this archive.',
      });
    }
    return undefined;
  }

  private onEntry(e: ReadEntry): void {
    if (this.failure !== undefined || this.settled) return void e.resume();
    const position = this.entries++;
    if (position === 0) this.firstMember = e.path;
    if (position === 0 && isManifestName(e.path)) return this.readManifest(e);
    // Signature hook: preflight saw (and judged) a manifest; an archive without one now was swapped.
    if (position === 0 && this.o.knownManifest) {
      e.resume();
      return this.fail(archiveSwapped(this.o.archive));
    }
    this.rules ??= this.newRules(undefined);
    if (this.o.firstOnly) {
      e.resume();
      return this.done();
    }
    this.members++;
    let m: CheckedMember;
    try {
      const header = { name: e.path, type: String(e.type), mode: e.mode ?? 0, size: e.size, linkpath: e.linkpath };
      m = this.rules.check(header);
    } catch (err) {
      e.resume();
      return this.refuse(err, e.path);
    }
    if (this.o.visitor?.member) this.o.visitor.member(m, e);
    else e.resume();
  }

  private onIgnored(e: ReadEntry): void {
    this.entries++;
    this.members++;
    this.refuse(unsafeMember('unsupported-type', e.path, `entry type ${String(e.type)} is not restorable`), e.path);
  }

  /** The first member is our manifest: parse it (or reuse the one peek parsed) and set the rules. */
  private readManifest(e: ReadEntry): void {
    if (e.size > this.limits.maxManifestBytes) {
      e.resume();
      const says = `the manifest is ${e.size} bytes (limit ${this.limits.maxManifestBytes})`;
      return this.fail(
        new ArchiveError('ARCHIVE_TOO_LARGE', says, {
          details: { reason: 'manifest-too-large' },
          hint: 'Nothing was changed. Use an archive written by `conductor-agent backup create`.',
        }),
      );
    }
    const chunks: Buffer[] = [];
    e.on('data', (c: Buffer) => chunks.push(c));
    e.on('end', () => {
      const bytes = Buffer.concat(chunks);
      this.manifestBytes = bytes;
      try {
        const known = this.o.knownManifest;
        // Signature hook: preflight checked the signature of exactly these bytes; other bytes = a swapped archive.
        if (known && !known.bytes.equals(bytes)) return this.fail(archiveSwapped(this.o.archive));
        this.manifest = known ? known.manifest : parseManifest(bytes);
        this.rules = this.newRules(this.manifest);
      } catch (err) {
        // Verify reports it and goes on as for a manifest-less archive.
        this.rules = this.newRules(undefined);
        return this.refuse(err, e.path);
      }
      if (this.o.firstOnly) this.done();
    });
  }

  private newRules(manifest: Manifest | undefined): MemberRules {
    const allowlist = this.o.allowlist ?? NOTHING_ALLOWED;
    const index = manifest ? manifestIndex(manifest) : undefined;
    return new MemberRules({ allowlist, manifest: index, target: this.o.target });
  }

  private refuse(err: unknown, member: string | undefined): void {
    if (err instanceof RecoveryError && this.o.visitor?.refused?.(err, member) === 'continue') return;
    this.fail(err);
  }

  private onEnd(): void {
    if (this.failure !== undefined || this.settled) return;
    if (this.entries === 0) {
      return this.fail(
        new ArchiveError('ARCHIVE_CORRUPT', `${this.o.archive} holds no members`, {
          details: { archive: this.o.archive },
          hint: 'Nothing was changed. The archive is empty: use another backup.',
        }),
      );
    }
    const missing = this.rules?.missing() ?? [];
    if (missing.length && !this.o.visitor?.refused) return this.fail(missingMembers(missing));
    this.done(missing);
  }

  private done(missing: string[] = []): void {
    if (this.settled) return;
    this.settled = true;
    if (this.o.firstOnly) this.stop();
    this.resolve({
      manifest: this.manifest,
      manifestBytes: this.manifestBytes,
      firstMember: this.firstMember,
      members: this.members,
      missing,
      archiveSha256: this.src.fileSha256(),
      compressedBytes: this.src.bytesRead(),
      uncompressedBytes: this.uncompressed,
      encrypted: this.src.encrypted,
      fileSize: this.src.fileSize,
    });
  }

  private stop(): void {
    this.src.stream.destroy();
    this.gunzip.destroy();
  }

  private fail(err: unknown): void {
    if (this.failure !== undefined || this.settled) return;
    this.failure = err;
    this.settled = true;
    this.stop();
    if (err instanceof RecoveryError) return this.reject(err);
    const says = `${this.o.archive} is not a readable gzip'd tar: ${(err as Error).message}`;
    this.reject(
      new ArchiveError('ARCHIVE_CORRUPT', says, {
        cause: err,
        details: { archive: this.o.archive },
        hint: 'Nothing was changed. Check the archive with `conductor-agent backup verify`, or use another backup.',
      }),
    );
  }

  private tarProblem(code: string | undefined, text: string): RecoveryError {
    // A bad first header is no tar at all (a gzip'd text file); a bad later one is a crafted member.
    if (this.entries > 0 && (code === 'TAR_ENTRY_INVALID' || code === 'TAR_ENTRY_UNSUPPORTED')) {
      return unsafeMember('malformed-header', '?', `malformed tar header (${text})`);
    }
    return new ArchiveError('ARCHIVE_CORRUPT', `${this.o.archive}: ${text}`, {
      details: { tarCode: code },
      hint: 'Nothing was changed. The archive is truncated or not a tar: use another backup.',
    });
  }
}

/** The archive read for staging is not the one preflight checked (and whose signature it verified). */
function archiveSwapped(archive: string): ArchiveError {
  const message = `${archive} changed between preflight and staging: its manifest is not the one checked`;
  return new ArchiveError('ARCHIVE_CHANGED', message, {
    details: { archive, reason: 'archive-changed' },
    hint: 'Nothing was changed. Make sure nothing writes the archive during a restore, then run restore again.',
  });
}
