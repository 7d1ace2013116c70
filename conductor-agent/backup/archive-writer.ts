/**
 * Streams the backup into an open file: manifest first, every file hashed while it is read (one
 * read per file, never two), compressed in parallel.
 *
 * Layout (multi-member gzip, RFC 1952 §2.2; GNU tar, gzip and zlib read it as one stream):
 *   member 0   the manifest's tar member, compressed into a length reserved before any file is
 *              read (gzip-padded.ts): written first with placeholder hashes, overwritten in place;
 *   member 1…n the rest of the tar stream cut into fixed-size chunks, each gzip'd on libuv's thread
 *              pool (pigz-style) and appended in order, the last one ending with the tar end blocks.
 *
 * GNU `tar -czf` runs tar and gzip as two processes; compressing chunks concurrently is how we stay
 * within its wall time on two cores while also hashing every byte.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { gzip, constants as zc } from 'node:zlib';
import { pemFinger } from '../../shared/salt/fingerprint.js';
import type { Manifest } from '../../shared/backup/format.js';
import { placeholderSignature, signManifest, type ManifestSigner } from '../../shared/backup/signature.js';
import { BackupError } from '../../shared/errors.js';
import type { CollectedEntry } from './collect.js';
import { unreadable, vanished } from './collect.js';
import { paddedGzip, reserveFor } from './gzip-padded.js';
import { buildManifest, manifestMember, serializeManifest, type ManifestMeta } from './manifest.js';
import type { SourceFs } from './source-fs.js';
import { END_OF_ARCHIVE, encodeHeader, padding } from './tar-header.js';

export interface WriteArchiveOptions {
  /** An open, empty file descriptor (the temp file). */
  fd: number;
  meta: ManifestMeta;
  entries: CollectedEntry[];
  fs: SourceFs;
  /** System path of master.pub: its content is captured while streaming for the fingerprint. */
  masterPubPath?: string | undefined;
  /** zlib level; 6 = gzip's default, what `tar -czf` uses. */
  level?: number;
  /** Bytes of tar stream per gzip member. */
  chunkSize?: number;
  /** Chunks compressing at once. */
  concurrency?: number;
  /** Called as content is read: bytes done of `total` file bytes. */
  onProgress?: (done: number) => void;
  /** Stop between files (daemon shutdown): BACKUP_FAILED, and no archive is left. */
  signal?: AbortSignal | undefined;
  /** Signs the final manifest (signature.ts); the placeholder reserves the signature's width. */
  signer?: ManifestSigner | undefined;
}

export interface WrittenArchive {
  manifest: Manifest;
  /** Bytes written (the archive's size). */
  size: number;
}

/**
 * 4 MiB of tar stream per gzip member: fewer members (each costs a zlib init on the main thread)
 * and slightly better compression than 1 MiB; CPU and wall time measured the same within noise on
 * the benchmark tree, so the larger size wins on archive size.
 */
const DEFAULT_CHUNK = 4 << 20;

/** The manifest with random hex in every hash: what deflate will face once the real hashes are in. */
function withRandomHashes(m: Manifest): Manifest {
  // One draw for all entries: 12,000 small randomBytes calls cost more than the compression estimate.
  const pool = randomBytes(32 * (m.entries.length + 1)).toString('hex');
  return {
    ...m,
    ...(m.masterFingerprint !== undefined ? { masterFingerprint: pool.slice(0, 64).replace(/(..)(?!$)/g, '$1:') } : {}),
    entries: m.entries.map((e, i) =>
      e.sha256 !== undefined ? { ...e, sha256: pool.slice(64 * (i + 1), 64 * (i + 2)) } : e,
    ),
  };
}

function internal(what: string, reserved: number): BackupError {
  return new BackupError('BACKUP_FAILED', `internal: ${what} (${reserved} bytes reserved)`, {
    details: { reserved },
    hint: 'This is a bug; please report it. No archive was written.',
  });
}
const ZEROS = Buffer.alloc(512);

function gzipAsync(buf: Buffer, level: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gzip(
      buf,
      { level, memLevel: 8, strategy: zc.Z_DEFAULT_STRATEGY, chunkSize: Math.max(64 * 1024, buf.length >>> 2) },
      (err, out) => (err ? reject(err) : resolve(out)),
    );
  });
}

/** Write the archive into `fd`; throws BACKUP_FILE_CHANGED / FS_UNREADABLE / BACKUP_FAILED. */
export async function writeArchive(o: WriteArchiveOptions): Promise<WrittenArchive> {
  const level = o.level ?? 6;
  const chunkSize = o.chunkSize ?? DEFAULT_CHUNK;
  const concurrency = o.concurrency ?? Math.max(2, availableParallelism());
  let position = 0;
  const put = (buf: Buffer, at?: number): void => {
    let off = 0;
    while (off < buf.length) {
      const n = writeSync(o.fd, buf, off, buf.length - off, at === undefined ? position : at + off);
      off += n;
      if (at === undefined) position += n;
    }
  };

  // Member 0: the manifest with placeholder hashes, compressed into a length reserved up front from
  // a stand-in with random hex where the hashes go (gzip-padded.ts), so it can be overwritten in
  // place once the real hashes are known.
  const placeholderManifest = buildManifest(o.meta, o.entries);
  if (o.signer) placeholderManifest.signature = placeholderSignature(o.signer); // signing hook 1/2
  const placeholderJson = serializeManifest(placeholderManifest);
  const reserved = reserveFor(manifestMember(withRandomHashes(placeholderManifest)), level);
  const placeholder = paddedGzip(
    manifestMember(placeholderManifest, placeholderJson.length, placeholderJson),
    reserved,
    level,
  );
  if (!placeholder) throw internal('the placeholder manifest does not fit its reservation', reserved);
  put(placeholder);

  // Members 1…n: chunks of the tar stream compressed concurrently, written in order.
  const inflight: Promise<Buffer>[] = [];
  const drainOne = async (): Promise<void> => {
    const next = inflight.shift();
    if (next) put(await next);
  };
  // Chunk buffers are recycled once compressed: fresh 1 MiB buffers cost page faults and GC.
  const pool: Buffer[] = [];
  const take = (): Buffer => pool.pop() ?? Buffer.allocUnsafeSlow(chunkSize);
  let chunk = take();
  let used = 0;
  const submit = async (): Promise<void> => {
    if (used === 0) return;
    const input = chunk;
    const p = gzipAsync(used === input.length ? input : input.subarray(0, used), level).then((out) => {
      pool.push(input);
      return out;
    });
    p.catch(() => undefined); // observed in drainOne; this only stops an unhandled-rejection crash
    inflight.push(p);
    chunk = take();
    used = 0;
    while (inflight.length >= concurrency) await drainOne();
  };
  const append = async (data: Buffer): Promise<void> => {
    let off = 0;
    while (off < data.length) {
      const n = data.copy(chunk, used, off);
      used += n;
      off += n;
      if (used === chunk.length) await submit();
    }
  };

  const hashes: string[] = [];
  let masterPub: Buffer | undefined;
  let done = 0;
  try {
    for (const e of o.entries) {
      if (o.signal?.aborted) {
        throw new BackupError('BACKUP_FAILED', 'the backup was cancelled (shutdown) before it finished', {
          details: { reason: String(o.signal.reason ?? 'aborted') },
          hint: 'No archive was written; the next scheduled run makes a new one.',
        });
      }
      const header = encodeHeader({
        name: e.systemPath.replace(/^\/+/, ''),
        type: e.type,
        size: e.size,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        uname: e.owner,
        gname: e.group,
        mtime: Math.floor(e.mtimeMs / 1000),
      });
      await append(header);
      if (e.type === 'dir') {
        hashes.push('');
        continue;
      }
      const capture: Buffer[] | undefined = e.systemPath === o.masterPubPath ? [] : undefined;
      const hash = createHash('sha256');
      let fd: number;
      try {
        fd = o.fs.openSync(e.sourcePath);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw code === 'ENOENT' || code === 'ELOOP' ? vanished(e.systemPath, err) : unreadable(e.systemPath, err);
      }
      try {
        let left = e.size;
        while (left > 0) {
          if (used === chunk.length) await submit();
          const want = Math.min(left, chunk.length - used);
          let n: number;
          try {
            n = o.fs.readSync(fd, chunk, used, want, null);
          } catch (err) {
            throw unreadable(e.systemPath, err);
          }
          if (n === 0) throw vanished(e.systemPath); // shrank since it was listed
          const view = chunk.subarray(used, used + n);
          hash.update(view);
          if (capture) capture.push(Buffer.from(view));
          used += n;
          left -= n;
          done += n;
          o.onProgress?.(done);
        }
        // One fstat after reading, against what collect saw: another file (replaced by rename), a
        // different size (grew or shrank), or a new change time (rewritten, even in place) means
        // what we hold is not the version the manifest describes. GNU tar only warns about this.
        const after = o.fs.fstatSync(fd);
        if (after.ino !== e.ino || after.size !== e.size || after.ctimeMs !== e.ctimeMs || !after.isFile()) {
          throw vanished(e.systemPath);
        }
      } finally {
        o.fs.closeSync(fd);
      }
      await append(ZEROS.subarray(0, padding(e.size)));
      hashes.push(hash.digest('hex'));
      if (capture) masterPub = Buffer.concat(capture);
    }
    await append(END_OF_ARCHIVE);
    await submit();
    while (inflight.length > 0) await drainOne();
  } catch (err) {
    // Let every compression finish before the caller closes and unlinks the file.
    await Promise.allSettled(inflight);
    throw err;
  }

  let finger: string | undefined;
  if (masterPub) {
    try {
      finger = pemFinger(masterPub);
    } catch {
      finger = undefined; // not a PEM key: the manifest keeps no fingerprint rather than a wrong one
    }
  }
  // Fill the placeholder manifest in place (same entries, same order) rather than building it again.
  const manifest = placeholderManifest;
  manifest.entries.forEach((entry, i) => {
    if (entry.type === 'file') entry.sha256 = hashes[i]!;
  });
  if (finger) manifest.masterFingerprint = finger;
  else delete manifest.masterFingerprint;
  if (o.signer) manifest.signature = signManifest(manifest, o.signer); // signing hook 2/2: over the final content
  const finalMember = manifestMember(manifest, placeholderJson.length);
  const final = paddedGzip(finalMember, reserved, level) ?? paddedGzip(finalMember, reserved, 9);
  if (!final) throw internal('the final manifest does not fit its reservation', reserved);
  put(final, 0);
  return { manifest, size: position };
}
