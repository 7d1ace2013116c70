/**
 * RSA key pairs in the exact form Salt writes them (`salt.crypt.gen_keys`, 3006): the private key as
 * traditional OpenSSL PEM (`BEGIN RSA PRIVATE KEY`), the public key as SubjectPublicKeyInfo PEM
 * (`BEGIN PUBLIC KEY`) ending with a newline. Generated in memory; writing is the caller's job.
 */
import { createPrivateKey, createPublicKey, generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import { KeysError } from '../../shared/errors.js';

const generateKeyPairAsync = promisify(generateKeyPair);

/** A key pair as PEM text. The private half is a secret: never log it. */
export interface PemKeyPair {
  privateKey: string;
  publicKey: string;
}

/** Salt's master default `keysize`. */
export const SALT_KEY_SIZE = 2048;

/** Generate an RSA pair formatted as Salt writes `master.pem` / `master.pub`. */
export async function generateSaltKeyPair(bits: number = SALT_KEY_SIZE): Promise<PemKeyPair> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', {
    modulusLength: bits,
    publicExponent: 65537,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { privateKey, publicKey };
}

/** The SubjectPublicKeyInfo PEM of a private key (what Salt writes as the `.pub`). */
export function publicKeyOf(privatePem: string): string {
  try {
    return createPublicKey(createPrivateKey(privatePem)).export({ type: 'spki', format: 'pem' }).toString();
  } catch (err) {
    throw new KeysError('KEYS_INVALID', 'the private key cannot be parsed', {
      cause: err,
      hint: 'The file must be an unencrypted RSA private key in PEM form (as Salt writes master.pem).',
    });
  }
}

/** True when `publicPem` is the public half of `privatePem` (compared on the DER, so formatting does not matter). */
export function isKeyPair(privatePem: string, publicPem: string): boolean {
  let pub: Buffer;
  try {
    pub = createPublicKey(publicPem).export({ type: 'spki', format: 'der' });
  } catch (err) {
    throw new KeysError('KEYS_INVALID', 'the public key cannot be parsed', { cause: err });
  }
  const fromPriv = createPublicKey(publicKeyOf(privatePem)).export({ type: 'spki', format: 'der' });
  return pub.equals(fromPriv);
}
