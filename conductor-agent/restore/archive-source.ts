/**
 * Opens a backup archive for one streaming pass: the raw bytes are hashed (for the `.sha256`
 * sidecar) as they are read, `.age` archives are decrypted on the fly with age-encryption, and the
 * caller gets the gzip'd tar bytes. Nothing is read twice. Decryption uses backup/encrypt.ts.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { type Readable, Transform } from 'node:stream';
import { ArchiveError, BackupError } from '../../shared/errors.js';
import { CHECKSUM_SUFFIX, ENCRYPTED_SUFFIX } from '../../shared/backup/format.js';

export interface ArchiveSource {
  /** gzip'd tar bytes (decrypted when the archive is `.age`). */
  stream: Readable;
  /** Raw bytes read so far from the archive file (compressed, or encrypted). */
  bytesRead(): number;
  /** SHA-256 (hex) of the archive file; valid once `stream` has ended. */
  fileSha256(): string;
  encrypted: boolean;
  fileSize: number;
}

/** Read the `.sha256` sidecar: the first hex word, or undefined when there is none. */
export async function readSidecar(archive: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(archive + CHECKSUM_SUFFIX, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // A folder (EISDIR), no permission, …: it is there but says nothing we can check against.
    throw new ArchiveError(
      'ARCHIVE_HASH_MISMATCH',
      `${archive}${CHECKSUM_SUFFIX} cannot be read as a sha256sum line: ${(err as Error).message}`,
      {
        cause: err,
        details: {
          sidecar: archive + CHECKSUM_SUFFIX,
          reason: 'sidecar-unreadable',
          errno: (err as NodeJS.ErrnoException).code,
        },
        hint: 'Restore the sidecar from the backup location, or remove it to restore with manifest hashes only.',
      },
    );
  }
  const m = /^([0-9a-fA-F]{64})\b/.exec(text.trim());
  if (!m) {
    throw new ArchiveError('ARCHIVE_HASH_MISMATCH', `${archive}${CHECKSUM_SUFFIX} is not a sha256sum line`, {
      details: { sidecar: archive + CHECKSUM_SUFFIX, reason: 'sidecar-invalid' },
      hint: 'Restore the sidecar from the backup location, or remove it to restore with manifest hashes only.',
    });
  }
  return m[1]!.toLowerCase();
}

/** Open `archive` for streaming. `.age` archives need `identityFile` (an `AGE-SECRET-KEY-1…` file). */
export async function openArchive(
  archive: string,
  options: { identityFile?: string | undefined } = {},
): Promise<ArchiveSource> {
  let size: number;
  try {
    const st = await fsp.stat(archive);
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
    size = st.size;
  } catch (err) {
    throw new ArchiveError('ARCHIVE_NOT_FOUND', `cannot read the archive ${archive}: ${(err as Error).message}`, {
      cause: err,
      details: { archive },
      hint: 'Give the path of a conductor-backup-….tar.gz (or .tar.gz.age) file.',
    });
  }
  const encrypted = archive.endsWith(ENCRYPTED_SUFFIX) || (await startsWithAgeHeader(archive));
  const hash: Hash = createHash('sha256');
  let read = 0;
  let digest: string | undefined;
  const raw = createReadStream(archive, { highWaterMark: 1 << 20 });
  // Hash the file bytes on their way through (one read serves the sidecar check and extraction).
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      read += chunk.length;
      hash.update(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      digest = hash.digest('hex');
      cb();
    },
  });
  raw.on('error', (err) => tap.destroy(err));
  raw.pipe(tap);
  let stream: Readable = tap;
  if (encrypted) stream = await decryptArchive(tap, archive, options.identityFile);
  return {
    stream,
    bytesRead: () => read,
    fileSha256: () => digest ?? '',
    encrypted,
    fileSize: size,
  };
}

async function startsWithAgeHeader(archive: string): Promise<boolean> {
  const fh = await fsp.open(archive, 'r');
  try {
    const buf = Buffer.alloc(21);
    await fh.read(buf, 0, 21, 0);
    return buf.toString('latin1').startsWith('age-encryption.org/v1');
  } finally {
    await fh.close();
  }
}

/** Decrypt with the backup side's age helpers (one implementation of the format for both sides). */
async function decryptArchive(raw: Readable, archive: string, identityFile: string | undefined): Promise<Readable> {
  if (!identityFile) {
    raw.destroy();
    throw new BackupError('BACKUP_ENCRYPTION_FAILED', `${archive} is encrypted and no identity was given`, {
      details: { archive },
      hint: 'Pass --identity FILE (the age identity, AGE-SECRET-KEY-1…, matching one of backup.encrypt.recipients).',
    });
  }
  const { decryptStream, readIdentities } = await import('../backup/encrypt.js');
  try {
    return await decryptStream(raw, await readIdentities(identityFile));
  } catch (err) {
    raw.destroy();
    throw err;
  }
}
