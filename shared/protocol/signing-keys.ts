/**
 * Ed25519 keys of the agent channel: the conductor-agent's signing key and each router agent's key.
 * Public keys travel as SPKI PEM; their short identity is the SHA-256 of the DER, colon hex.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { KeysError } from '../errors.js';

export interface SigningKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SPKI PEM of the public key. */
  publicPem: string;
}

/** Make a fresh Ed25519 key pair. */
export function generateSigningKeyPair(): SigningKeyPair & { privatePem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKey,
    publicKey,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** Load a PKCS#8 Ed25519 private key (PEM). */
export function loadPrivateKey(pem: string, where = 'private key'): SigningKeyPair {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new KeysError('KEYS_INVALID', `${where} is not a readable private key`, { cause: err });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new KeysError('KEYS_INVALID', `${where} is not an Ed25519 key`);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** Parse one Ed25519 public key (SPKI PEM). */
export function loadPublicKey(pem: string, where = 'public key'): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new KeysError('KEYS_INVALID', `${where} is not a readable public key`, { cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new KeysError('KEYS_INVALID', `${where} is not an Ed25519 key`);
  return key;
}

/** Every `-----BEGIN PUBLIC KEY-----` block in `text` (an HA pair may pin two conductor keys). */
export function loadPublicKeys(text: string, where = 'public key file'): KeyObject[] {
  const blocks = text.match(/-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g) ?? [];
  if (blocks.length === 0) throw new KeysError('KEYS_INVALID', `${where} holds no PEM public key`);
  return blocks.map((b, i) => loadPublicKey(b, `${where} (key ${i + 1})`));
}

/** SHA-256 of the SPKI DER, colon hex: how operators and reports name an agent key. */
export function keyFingerprint(key: KeyObject | string): string {
  const k = typeof key === 'string' ? createPublicKey(key) : key.type === 'private' ? createPublicKey(key) : key;
  const der = k.export({ type: 'spki', format: 'der' });
  return createHash('sha256')
    .update(der)
    .digest('hex')
    .replace(/(..)(?!$)/g, '$1:');
}

/** Normalise a certificate fingerprint (`AB:CD…`, `abcd…`, `sha256/…`) to lowercase hex without colons. */
export function normaliseCertFingerprint(fp: string): string {
  return fp
    .trim()
    .replace(/^sha256[:/]+/i, '')
    .replace(/[:\s]/g, '')
    .toLowerCase();
}
