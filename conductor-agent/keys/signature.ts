/**
 * The signature a minion with `verify_master_pubkey_sign: True` checks (reference/salt.md §5):
 * RSASSA-PKCS1-v1_5 over `clean_key(master.pub)` — the PEM text, `\n` line endings, stripped, **no
 * trailing newline** — base64-encoded as Python's `binascii.b2a_base64` writes it (one line plus
 * `\n`). `salt-key --gen-signature` signs the raw file (with its trailing newline), which minions
 * reject (§5.1 "BUG", §10); we sign the cleaned text instead.
 */
import { createPublicKey, sign, verify } from 'node:crypto';
import { cleanKey } from '../../shared/salt/fingerprint.js';
import { KeysError } from '../../shared/errors.js';

/** Salt's signing algorithms (`salt/crypt.py`); the minion default and the only one a precomputed signature can serve. */
export type SaltSigningAlgorithm = 'PKCS1v15-SHA1' | 'PKCS1v15-SHA224';

const DIGEST: Record<SaltSigningAlgorithm, string> = { 'PKCS1v15-SHA1': 'sha1', 'PKCS1v15-SHA224': 'sha224' };

/** The exact bytes Salt signs and minions verify: `clean_key` of the master public key. */
export function signedMessage(masterPubPem: string): Buffer {
  return Buffer.from(cleanKey(masterPubPem), 'utf8');
}

/**
 * Sign `master.pub` with `master_sign.pem`; returns the signature file text as Salt writes
 * `master_pubkey_signature` (base64, one line, trailing `\n`).
 */
export function signMasterPub(
  signPrivatePem: string,
  masterPubPem: string,
  algorithm: SaltSigningAlgorithm = 'PKCS1v15-SHA1',
): string {
  try {
    return `${sign(DIGEST[algorithm], signedMessage(masterPubPem), signPrivatePem).toString('base64')}\n`;
  } catch (err) {
    throw new KeysError('KEYS_INVALID', 'could not sign master.pub with the signing key', {
      cause: err,
      hint: 'Check that master_sign.pem is an unencrypted RSA private key.',
    });
  }
}

/** Verify a signature file's text as a minion does (`a2b_base64`, then PKCS1v15 over `clean_key`). */
export function verifyMasterPubSignature(
  signPublicPem: string,
  masterPubPem: string,
  signatureText: string,
  algorithm: SaltSigningAlgorithm = 'PKCS1v15-SHA1',
): boolean {
  const b64 = signatureText.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return false;
  try {
    return verify(
      DIGEST[algorithm],
      signedMessage(masterPubPem),
      createPublicKey(signPublicPem),
      Buffer.from(b64, 'base64'),
    );
  } catch {
    return false;
  }
}
