/**
 * Host-key pinning: `SHA256:<base64>` exactly as `ssh-keygen -lf` and OpenSSH print it (base64 of
 * the SHA-256 of the key blob, no `=` padding). Comparing fingerprints, not trusting on first use,
 * is the whole point: a wrong key is refused before authentication is attempted.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** OpenSSH-style SHA256 fingerprint of a raw public key blob. */
export function sshFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** True when `keyBlob`'s fingerprint equals `pinned` (padding-insensitive, constant time). */
export function matchesPin(keyBlob: Buffer, pinned: string): boolean {
  const a = Buffer.from(sshFingerprint(keyBlob));
  const b = Buffer.from(pinned.trim().replace(/=+$/, ''));
  return a.length === b.length && timingSafeEqual(a, b);
}
