/**
 * Safe, single-pass extraction of a backup archive into a fresh staging folder. node-tar's Parser
 * reads headers; every write is ours, so nothing outside staging can be touched, whatever the
 * archive says. Each member is checked before a byte is written: name (`..`, NUL), allowlist,
 * type (no devices/FIFOs), setuid/setgid bits, links that leave the allowlist, duplicates, paths
 * through a symlink, and — for archives with our manifest — presence in the manifest, type and
 * size; SHA-256 is computed while writing and compared at the member's end. Bombs are stopped by
 * total-size and compression-ratio limits. Any violation aborts with an ArchiveError; the caller
 * removes the staging folder, so the target tree is never touched.
 */
import { createHash, type Hash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { posix } from 'node:path';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { ArchiveError, RecoveryError } from '../../shared/errors.js';
import { MANIFEST_NAME, type Manifest, type ManifestEntry } from '../../shared/backup/format.js';
import { isAllowed, isAncestorOfAllowed, type Allowlist } from './allowlist.js';
import { openArchive } from './archive-source.js';
import { startJsonCheck, type AsyncJsonCheck } from './json-check-async.js';
import { manifestIndex, parseManifest } from './manifest-check.js';
import { sharedChunks } from './shared-chunks.js';
import { resolveLinkTarget, systemPathOfMember, unsafeMember } from './member-path.js';
import { safeMode } from './modes.js';
import { inlineStagingWriter, STAGING_HIGH_WATER, workerStagingWriter, type StagingWriter } from './staging-writer.js';
import type { OwnerIds } from './owner-ids.js';
import type { StagedMember } from './types.js';

export interface ExtractLimits {
  /** Refuse once the uncompressed tar stream exceeds this many bytes. */
  maxTotalBytes: number;
  /** Refuse when uncompressed/compressed exceeds this (after `ratioGraceBytes`). */
  maxRatio: number;
  ratioGraceBytes: number;
  /** Largest manifest accepted. */
  maxManifestBytes: number;
}

export const DEFAULT_LIMITS: ExtractLimits = {
  maxTotalBytes: 16 * 1024 ** 3,
  maxRatio: 200,
  ratioGraceBytes: 16 * 1024 ** 2,
  maxManifestBytes: 64 * 1024 ** 2,
};

export interface ExtractOptions {
  archive: string;
  /** A fresh, empty folder (0700) on the target's file system; members land at `<staging><system path>`. */
  staging: string;
  allowlist: Allowlist;
  owners: OwnerIds;
  pkiDir: string;
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
  /** Modes that were tightened (private keys, pki folders). */
  tightened: string[];
  encrypted: boolean;
  /** Settles (never rejects) when the early writeback of large staged files is done. */
  writeback: Promise<void>;
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

/** Extract `archive` into `staging`; throws an ArchiveError (or BACKUP_ENCRYPTION_FAILED) on any refusal. */
export async function extractToStaging(o: ExtractOptions): Promise<ExtractResult> {
  const limits: ExtractLimits = { ...DEFAULT_LIMITS, ...Object.fromEntries(Object.entries(o.limits ?? {}).filter(([, v]) => v !== undefined)) };
  const src = await openArchive(o.archive, { identityFile: o.identityFile });
  const gunzip = createGunzip({ chunkSize: 1 << 18 });
  const parser = new Parser({ strict: true });
  const members: StagedMember[] = [];
  const byPath = new Map<string, StagedMember>();
  const symlinks = new Set<string>();
  const jsonErrors = new Map<string, string>();
  const tightened: string[] = [];
  const dirsToFinish: StagedMember[] = [];
  const pendingJson: Promise<void>[] = [];
  const jsonChecks: AsyncJsonCheck[] = [];
  let manifest: Manifest | undefined;
  let index: Map<string, ManifestEntry> | undefined;
  let first = true;
  let uncompressed = 0;
  let failure: unknown;
  // Large files (the running config) are written back to disk as soon as they are staged, on the
  // thread pool, while the small files are still being created: the flush before `staged` then has
  // little left to write. Only a head start: durability still comes from that flush.
  const writebacks: Promise<void>[] = [];
  const onClosed = (path: string): void => { writebacks.push(startWriteback(path)); };
  const early = o.earlyWriteback === true;
  // One copy of each data chunk, read by the writer and the JSON check in place.
  const chunks = sharedChunks();
  const writer: StagingWriter = o.writer === 'inline' ? inlineStagingWriter({ onClosed }) : workerStagingWriter({ onClosed });

  return new Promise<ExtractResult>((resolve, reject) => {
    const fail = (err: unknown): void => {
      if (failure !== undefined) return;
      failure = err;
      src.stream.destroy();
      gunzip.destroy();
      for (const j of jsonChecks) j.abort();
      // Reject only once no write can still land in staging (the caller removes it).
      void writer.abort().finally(() => reject(err instanceof RecoveryError ? err : new ArchiveError('ARCHIVE_CORRUPT', `${o.archive} is not a readable gzip'd tar: ${(err as Error).message}`, {
        cause: err, details: { archive: o.archive }, hint: 'Nothing was changed. Check the archive with `conductor-agent backup verify`, or use another backup.',
      })));
    };
    const staged = (p: string): string => o.staging + p;
    const made = new Set<string>();
    const ensureParent = (p: string): void => {
      const d = posix.dirname(p);
      if (made.has(d)) return;
      writer.push({ op: 'mkdir', path: staged(d) });
      made.add(d);
    };

    const onEntry = (e: ReadEntry): void => {
      if (failure !== undefined) { e.resume(); return; }
      try {
        if (first) {
          first = false;
          if (e.path === MANIFEST_NAME) return readManifest(e);
          if (o.knownManifest) throw archiveSwapped(o.archive); // signature hook: preflight saw a manifest
        }
        handleMember(e);
      } catch (err) {
        e.resume();
        fail(err);
      }
    };

    const readManifest = (e: ReadEntry): void => {
      if (e.size > limits.maxManifestBytes) throw new ArchiveError('ARCHIVE_TOO_LARGE', `the manifest is ${e.size} bytes (limit ${limits.maxManifestBytes})`, { details: { reason: 'manifest-too-large' } });
      const chunks: Buffer[] = [];
      e.on('data', (c: Buffer) => chunks.push(c));
      e.on('end', () => {
        try {
          const bytes = Buffer.concat(chunks);
          // Signature hook: preflight checked the signature of exactly these bytes; other bytes = a swapped archive.
          if (o.knownManifest && !o.knownManifest.bytes.equals(bytes)) throw archiveSwapped(o.archive);
          manifest = o.knownManifest ? o.knownManifest.manifest : parseManifest(bytes);
          index = manifestIndex(manifest);
        } catch (err) { fail(err); }
      });
    };

    const handleMember = (e: ReadEntry): void => {
      const rawName = e.path;
      if (rawName === MANIFEST_NAME || posix.basename(rawName) === MANIFEST_NAME) throw unsafeMember('unexpected-member', rawName, 'a manifest that is not the first member');
      const path = systemPathOfMember(rawName, { seedArchive: manifest === undefined });
      const type = e.type as string;
      if (byPath.has(path)) throw unsafeMember('duplicate-member', rawName, 'the archive holds this path twice (a later copy would overwrite the first)');
      // (No symlink so far, nothing to go through: archives with a manifest hold none.)
      for (let d = symlinks.size ? posix.dirname(path) : '/'; d !== '/'; d = posix.dirname(d)) {
        if (symlinks.has(d)) throw unsafeMember('through-symlink', rawName, `the path goes through the symlink ${d}`);
      }
      if (type === 'CharacterDevice' || type === 'BlockDevice' || type === 'FIFO') throw unsafeMember('device-or-fifo', rawName, `a ${type} entry`);
      const mode = e.mode ?? 0;
      if (mode & 0o6000) throw unsafeMember('setuid-setgid', rawName, `mode ${mode.toString(8)} has setuid/setgid bits`);
      const kind = type === 'Directory' ? 'dir' : FILE_TYPES.has(type) ? 'file' : type === 'SymbolicLink' ? 'symlink' : type === 'Link' ? 'hardlink' : undefined;
      if (kind === undefined) throw unsafeMember('unsupported-type', rawName, `entry type ${type} is not restorable`);
      const allowed = isAllowed(o.allowlist, path);
      if (!allowed && !(kind === 'dir' && isAncestorOfAllowed(o.allowlist, path))) {
        throw unsafeMember('outside-allowlist', rawName, `${path} is not in the restore set`, { path });
      }
      const m = index?.get(path);
      if (index) {
        if (!m) throw unsafeMember('unexpected-member', rawName, 'the member is not listed in the manifest', { path });
        if ((m.type === 'dir') !== (kind === 'dir') || kind === 'symlink' || kind === 'hardlink') throw unsafeMember('type-mismatch', rawName, `the manifest says ${m.type}, the archive holds ${type}`);
        if (kind === 'file' && e.size > m.size) throw tooLarge(rawName, e.size, m.size);
      }
      const uid = o.owners.uid(m?.owner ?? e.uname, m?.uid ?? e.uid ?? 0);
      const gid = o.owners.gid(m?.group ?? e.gname, m?.gid ?? e.gid ?? 0);
      const mtime = m ? Math.floor(Date.parse(m.mtime) / 1000) : Math.floor((e.mtime?.getTime() ?? 0) / 1000);
      const wanted = safeMode(path, kind, (m?.mode ?? mode) & 0o1777, o.pkiDir);
      if (wanted !== ((m?.mode ?? mode) & 0o1777)) tightened.push(path);
      const member: StagedMember = { path, kind, size: kind === 'file' ? e.size : 0, mode: wanted, uid, gid, mtime: Number.isFinite(mtime) ? mtime : 0 };
      byPath.set(path, member);
      members.push(member);

      if (kind === 'dir') {
        writer.push({ op: 'mkdir', path: staged(path) });
        made.add(path);
        dirsToFinish.push(member);
        e.resume();
        return;
      }
      ensureParent(path);
      if (kind === 'symlink') {
        const target = e.linkpath ?? '';
        const resolved = resolveLinkTarget(path, target);
        if (!resolved || !isAllowed(o.allowlist, resolved)) throw unsafeMember('link-escape', rawName, `symlink to ${target} leaves the restore set`, { linkpath: target });
        // A link from outside the pki folder into it would publish the master's private key (the
        // Salt fileserver follows symlinks under /srv/salt).
        if (within(resolved, o.pkiDir) && !within(path, o.pkiDir)) throw unsafeMember('link-escape', rawName, `symlink to ${target} points into the Salt master pki folder`, { linkpath: target });
        member.linkTarget = target;
        symlinks.add(path);
        writer.push({ op: 'symlink', target, path: staged(path), uid, gid });
        e.resume();
        return;
      }
      if (kind === 'hardlink') {
        const targetPath = systemPathOfMember(e.linkpath ?? '', { seedArchive: manifest === undefined });
        const t = byPath.get(targetPath);
        if (!t || t.kind !== 'file' || !isAllowed(o.allowlist, targetPath)) throw unsafeMember('link-escape', rawName, `hard link to ${e.linkpath} is not an earlier file in the restore set`, { linkpath: e.linkpath });
        Object.assign(member, { size: t.size, sha256: t.sha256, mode: t.mode, uid: t.uid, gid: t.gid, mtime: t.mtime, linkTarget: targetPath });
        writer.push({ op: 'link', existing: staged(targetPath), path: staged(path) });
        e.resume();
        return;
      }
      writeFile(e, member, m);
    };

    const writeFile = (e: ReadEntry, member: StagedMember, m: ManifestEntry | undefined): void => {
      const json = o.jsonPaths?.has(member.path) ? startJsonCheck(member.size) : undefined;
      if (json) jsonChecks.push(json);
      // A JSON worker hashes the bytes it checks (the running config: most of the archive's bytes)
      // on its own core; the small files are hashed here. The writer's core is kept for the file
      // system calls (it is the busier of the two while the 12,000 small files are created).
      const hash: Hash | undefined = json?.hashes ? undefined : createHash('sha256');
      writer.push({ op: 'open', path: staged(member.path), mode: member.mode });
      let written = 0;
      e.on('data', (c: Buffer) => {
        if (failure !== undefined) return;
        written += c.length;
        if (m && written > m.size) return fail(tooLarge(e.path, written, m.size));
        hash?.update(c);
        const shared = chunks.copy(c);
        json?.write(shared);
        writer.push({ op: 'data', data: shared });
      });
      e.on('end', () => {
        if (failure !== undefined) return;
        try {
          if (hash) member.sha256 = hash.digest('hex');
          if (m && (written !== m.size || (hash && member.sha256 !== m.sha256))) throw hashMismatch(member.path, m, written, member.sha256);
          if (json) {
            const checked = json.end().then(({ error, sha256 }) => {
              if (error !== undefined) jsonErrors.set(member.path, error);
              if (json.hashes) {
                member.sha256 = sha256;
                if (m && sha256 !== m.sha256) throw hashMismatch(member.path, m, written, sha256);
              }
            });
            // Awaited when extraction ends; after an earlier refusal nobody awaits it.
            checked.catch(() => undefined);
            pendingJson.push(checked);
          }
          writer.push({ op: 'close', uid: member.uid, gid: member.gid, mode: member.mode, mtime: member.mtime, ...(early && written >= EARLY_WRITEBACK_BYTES ? { report: staged(member.path) } : {}) });
        } catch (err) { fail(err); }
      });
    };

    parser.on('entry', onEntry);
    parser.on('ignoredEntry', (e: ReadEntry) => fail(unsafeMember('unsupported-type', e.path, `entry type ${String(e.type)} is not restorable`)));
    // strict: node-tar reports every problem as an 'error' carrying `tarCode`.
    const tarProblem = (code: string | undefined, text: string): RecoveryError =>
      code === 'TAR_ENTRY_INVALID' || code === 'TAR_ENTRY_UNSUPPORTED'
        ? unsafeMember('malformed-header', '?', `malformed tar header (${text})`)
        : new ArchiveError('ARCHIVE_CORRUPT', `${o.archive}: ${text}`, { details: { tarCode: code }, hint: 'Nothing was changed. The archive is truncated or not a tar: use another backup.' });
    parser.on('warn', (code: string, message: string | Error) => fail(tarProblem(code, message instanceof Error ? message.message : message)));
    parser.on('error', (err: Error & { tarCode?: string }) => fail(tarProblem(err.tarCode, err.message)));
    src.stream.on('error', (err) => fail(err));
    gunzip.on('error', (err) => fail(err));
    gunzip.on('data', (c: Buffer) => {
      if (failure !== undefined) return;
      uncompressed += c.length;
      if (uncompressed > limits.maxTotalBytes) {
        return fail(new ArchiveError('ARCHIVE_TOO_LARGE', `the archive expands beyond ${limits.maxTotalBytes} bytes`, { details: { reason: 'total-size', limit: limits.maxTotalBytes }, hint: 'Nothing was changed. Raise restore.maxTotalBytes only if this backup is really that large.' }));
      }
      if (uncompressed > limits.ratioGraceBytes && uncompressed / Math.max(1, src.bytesRead()) > limits.maxRatio) {
        return fail(new ArchiveError('ARCHIVE_TOO_LARGE', `the archive expands more than ${limits.maxRatio}× (a decompression bomb?)`, { details: { reason: 'compression-ratio', limit: limits.maxRatio }, hint: 'Nothing was changed. Raise restore.maxRatio only if you trust this archive.' }));
      }
      if (!parser.write(c)) {
        gunzip.pause();
        parser.once('drain', () => gunzip.resume());
      } else if (writer.backlog() > STAGING_HIGH_WATER) {
        // The writer is behind: hold the input until it catches up (bounded memory).
        gunzip.pause();
        void writer.drained().then(() => gunzip.resume());
      }
    });
    gunzip.on('end', () => {
      if (failure !== undefined) return;
      parser.end();
    });
    parser.on('end', async () => {
      if (failure !== undefined) return;
      try {
        if (first) throw new ArchiveError('ARCHIVE_CORRUPT', `${o.archive} holds no members`, { details: { archive: o.archive } });
        if (index) {
          const missing = [...index.keys()].filter((p) => !byPath.has(p));
          if (missing.length) {
            throw new ArchiveError('ARCHIVE_HASH_MISMATCH', `${missing.length} member(s) listed in the manifest are missing from the archive (first: ${missing[0]})`, {
              details: { reason: 'missing-member', missing: missing.slice(0, 20) }, hint: 'Nothing was changed. The archive is truncated or was altered: use another backup.',
            });
          }
        }
        // Folder modes last: a 0500 folder set early would refuse its own children.
        for (const d of dirsToFinish.reverse()) writer.push({ op: 'dirmeta', path: staged(d.path), uid: d.uid, gid: d.gid, mode: d.mode, mtime: d.mtime });
        try {
          await writer.finish();
        } catch (err) {
          throw writeFailed(o.staging, err);
        }
        await Promise.all(pendingJson);
        // Hard links share their target's content (a JSON-checked target's hash is known now).
        for (const mem of members) if (mem.kind === 'hardlink' && mem.linkTarget) mem.sha256 = byPath.get(mem.linkTarget)?.sha256;
        resolve({ manifest, members, writeback: Promise.all(writebacks).then(() => undefined), archiveSha256: src.fileSha256(), compressedBytes: src.bytesRead(), uncompressedBytes: uncompressed, jsonErrors, tightened, encrypted: src.encrypted });
      } catch (err) { fail(err); }
    });
    src.stream.pipe(gunzip);
  });
}

/** Files at least this large get an early writeback. */
const EARLY_WRITEBACK_BYTES = 8 << 20;

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

const within = (p: string, dir: string): boolean => {
  const d = dir.replace(/\/+$/, '');
  return p === d || p.startsWith(d + '/');
};

function tooLarge(member: string, size: number, expected: number): ArchiveError {
  return new ArchiveError('ARCHIVE_TOO_LARGE', `member ${member} is ${size} bytes, larger than the ${expected} the manifest records`, {
    details: { member, reason: 'member-larger-than-manifest', size, expected },
    hint: 'Nothing was changed. The archive was altered: use another backup.',
  });
}

function hashMismatch(path: string, m: ManifestEntry, size: number, sha256: string | undefined): ArchiveError {
  return new ArchiveError('ARCHIVE_HASH_MISMATCH', `${path} does not match the manifest (size ${size}/${m.size}${sha256 ? `, sha256 ${sha256.slice(0, 12)}…/${m.sha256?.slice(0, 12)}…` : ''})`, {
    details: { path, expected: m.sha256, actual: sha256, expectedSize: m.size, actualSize: size },
    hint: 'Nothing was changed. The archive is damaged or was altered: use another backup.',
  });
}

function writeFailed(path: string, err: unknown): RecoveryError {
  const code = (err as NodeJS.ErrnoException).code;
  return new RecoveryError('FS_WRITE_FAILED', `cannot stage ${path}: ${(err as Error).message}`, {
    cause: err, details: { path, errno: code },
    hint: code === 'ENOSPC' ? 'The disk is full: free space on the file system holding the restore journal, then run restore again.' : 'Check the restore journal folder is writable.',
  });
}

/** The archive read for staging is not the one preflight checked (and whose signature it verified). */
function archiveSwapped(archive: string): ArchiveError {
  const message = `${archive} changed between preflight and staging: its manifest is not the one checked`;
  return new ArchiveError('ARCHIVE_CHANGED', message, {
    details: { archive, reason: 'archive-changed' },
    hint: 'Nothing was changed. Make sure nothing writes the archive during a restore, then run restore again.',
  });
}
