import { randomBytes, randomInt } from 'node:crypto';

/** Randomness as a port (nonces, ids, jitter), so tests can make it deterministic. */
export interface Random {
  /** `n` random bytes. */
  bytes(n: number): Buffer;
  /** A float in [0, 1) for jitter. */
  float(): number;
  /** A URL-safe random id of `bytes` bytes of entropy. */
  id(bytes?: number): string;
}

export const systemRandom: Random = {
  bytes: (n) => randomBytes(n),
  float: () => randomInt(0, 2 ** 32) / 2 ** 32,
  id: (n = 16) => randomBytes(n).toString('base64url'),
};
