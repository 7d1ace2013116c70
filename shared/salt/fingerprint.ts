/**
 * Salt's key fingerprint, computed exactly as `salt.utils.crypt.pem_finger` does for a path
 * (reference/salt.md §4.5, confirmed on 3006.18 in §10): drop blank lines, drop the first and last
 * remaining lines (BEGIN/END), hash the remaining base64 lines *with* their `\n`, `\r\n` → `\n`,
 * lowercase hex with a `:` after every two characters. Equal to
 * `grep -v -- '-----' key.pub | sha256sum` colon-joined. This is the value `master_finger` takes.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { KeysError } from '../errors.js';

export type SaltHashType = 'sha256' | 'sha224' | 'sha384' | 'sha512' | 'sha1' | 'md5';

/** Fingerprint of PEM text as Salt's path form computes it. */
export function pemFinger(pem: string | Buffer, hashType: SaltHashType = 'sha256'): string {
  const text = (typeof pem === 'string' ? pem : pem.toString('utf8')).replace(/\r\n/g, '\n');
  // Python's readlines keeps each line's '\n'; the last line may have none.
  const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const nonBlank = lines.filter((l) => l.trim() !== '');
  if (
    nonBlank.length < 3 ||
    !nonBlank[0]!.startsWith('-----BEGIN') ||
    !nonBlank[nonBlank.length - 1]!.startsWith('-----END')
  ) {
    throw new KeysError('KEYS_INVALID', 'not a PEM key: expected BEGIN line, base64 body and END line', {
      hint: 'Give the path of a PEM public key such as master.pub.',
    });
  }
  const body = nonBlank.slice(1, -1).join('');
  return colonHex(createHash(hashType).update(body, 'utf8').digest('hex'));
}

/** Fingerprint of a key file on disk. */
export async function pemFingerFile(path: string, hashType: SaltHashType = 'sha256'): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new KeysError('KEYS_INVALID', `cannot read key file ${path}: ${(err as Error).message}`, {
      cause: err,
      details: { path },
    });
  }
  try {
    return pemFinger(text, hashType);
  } catch (err) {
    throw new KeysError('KEYS_INVALID', `${path} is not a PEM key`, { cause: err, details: { path } });
  }
}

/** `abcd…` → `ab:cd:…`. */
export function colonHex(hex: string): string {
  return hex.toLowerCase().replace(/(..)(?!$)/g, '$1:');
}

/** True for a well-formed sha256 master_finger (95 characters, lowercase hex pairs). */
export function isSha256Finger(s: string): boolean {
  return /^[0-9a-f]{2}(:[0-9a-f]{2}){31}$/.test(s);
}

/** Salt's `clean_key`: the PEM text with `\n` line endings, stripped, no trailing newline (what auth replies carry). */
export function cleanKey(pem: string): string {
  return pem.replace(/\r\n/g, '\n').trim();
}
