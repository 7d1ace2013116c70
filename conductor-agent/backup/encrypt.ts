/**
 * age encryption of finished archives (`.tar.gz` → `.tar.gz.age`) and decryption for verify and
 * restore. Backups hold the Salt master private key: encrypting to recipients (public keys) in the
 * configuration means the conductor never needs the private identity to make a backup.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Encrypter } from 'age-encryption';
import { BackupError } from '../../shared/errors.js';

/** age-encryption costs ~0.1 s to load: only backups that are encrypted pay for it. */
const loadAge = () => import('age-encryption');

/** An Encrypter for the recipients; BACKUP_ENCRYPTION_FAILED for a malformed one (checked before any work). */
export async function encrypterFor(recipients: readonly string[]): Promise<Encrypter> {
  const enc = new (await loadAge()).Encrypter();
  try {
    for (const r of recipients) enc.addRecipient(r);
  } catch (err) {
    throw new BackupError(
      'BACKUP_ENCRYPTION_FAILED',
      `invalid age recipient in backup.encrypt.recipients: ${(err as Error).message}`,
      {
        cause: err,
        hint: 'Recipients are age public keys (age1…), as printed by `age-keygen -y`.',
      },
    );
  }
  return enc;
}

/** Encrypt `src` into the open `dst` handle; returns the SHA-256 of what was written. */
export async function encryptFile(src: string, dst: fsp.FileHandle, recipients: readonly string[]): Promise<string> {
  const enc = await encrypterFor(recipients);
  const input = Readable.toWeb(
    createReadStream(src, { highWaterMark: 1 << 20 }),
  ) as unknown as ReadableStream<Uint8Array>;
  const out = await enc.encrypt(input);
  const h = createHash('sha256');
  for await (const chunk of out as unknown as AsyncIterable<Uint8Array>) {
    h.update(chunk);
    let off = 0;
    while (off < chunk.length) off += (await dst.write(chunk, off, chunk.length - off)).bytesWritten;
  }
  return h.digest('hex');
}

/** Read an age identity file: `AGE-SECRET-KEY-1…` lines, `#` comments ignored. */
export async function readIdentities(identityFile: string): Promise<string[]> {
  let text: string;
  try {
    text = await fsp.readFile(identityFile, 'utf8');
  } catch (err) {
    throw new BackupError(
      'BACKUP_ENCRYPTION_FAILED',
      `cannot read the age identity file ${identityFile}: ${(err as Error).message}`,
      {
        cause: err,
        details: { identityFile },
        hint: 'Give --identity the file age-keygen wrote (it holds AGE-SECRET-KEY-1…).',
      },
    );
  }
  const ids = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('AGE-SECRET-KEY-'));
  if (ids.length === 0) {
    throw new BackupError('BACKUP_ENCRYPTION_FAILED', `${identityFile} holds no age identity (AGE-SECRET-KEY-…)`, {
      details: { identityFile },
    });
  }
  return ids;
}

/** Decrypt a stream of an age file with the identities; the header is checked before this resolves. */
export async function decryptStream(input: Readable, identities: readonly string[]): Promise<Readable> {
  const dec = new (await loadAge()).Decrypter();
  try {
    for (const id of identities) dec.addIdentity(id);
  } catch (err) {
    input.destroy();
    // Never echo the line: it is (almost) a private key.
    throw new BackupError('BACKUP_ENCRYPTION_FAILED', `the age identity is malformed: ${(err as Error).message}`, {
      cause: err,
      details: { reason: 'identity-malformed' },
      hint: 'Give --identity the file age-keygen wrote: AGE-SECRET-KEY-1… lines, unchanged.',
    });
  }
  try {
    const web = await dec.decrypt(Readable.toWeb(input) as unknown as ReadableStream<Uint8Array>);
    return Readable.fromWeb(web as unknown as WebReadableStream<Uint8Array>);
  } catch (err) {
    throw new BackupError('BACKUP_ENCRYPTION_FAILED', `cannot decrypt the archive: ${(err as Error).message}`, {
      cause: err,
      hint: 'Use the identity (private key) matching one of the recipients the backup was encrypted to.',
    });
  }
}
