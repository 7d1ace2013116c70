/**
 * Open a backup for reading as a stream of gzip'd tar bytes, decrypting `.tar.gz.age` with an age
 * identity file on the way. Restore pipes this into its extractor (node-tar or zlib + tar parser);
 * multi-member gzip is part of the format (archive-writer.ts), and both node:zlib and node-tar read it.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import type { Readable } from 'node:stream';
import { ENCRYPTED_SUFFIX } from '../../shared/backup/format.js';
import { ArchiveError, BackupError } from '../../shared/errors.js';
import { decryptStream, readIdentities } from './encrypt.js';

export async function openArchive(
  path: string,
  options: { identityFile?: string | undefined } = {},
): Promise<Readable> {
  try {
    await fsp.access(path);
  } catch (err) {
    throw new ArchiveError('ARCHIVE_NOT_FOUND', `archive ${path} does not exist or cannot be read`, {
      cause: err,
      details: { path },
    });
  }
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  if (!path.endsWith(ENCRYPTED_SUFFIX)) return raw;
  if (!options.identityFile) {
    raw.destroy();
    throw new BackupError('BACKUP_ENCRYPTION_FAILED', `${path} is encrypted: an age identity file is needed`, {
      details: { path },
      hint: 'Pass --identity <file> with the private key matching one of backup.encrypt.recipients.',
    });
  }
  return decryptStream(raw, await readIdentities(options.identityFile));
}
