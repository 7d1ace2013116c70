/**
 * A seeded frame mutator for the fuzz tests: from valid protocol frames it makes broken, hostile
 * and confusing ones (flipped bytes, truncation, wrong types, prototype keys, deep nesting, forged
 * or non-canonical signatures, other versions). Seeded, so a failing run can be replayed.
 */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 1;
  }
  next(): number {
    // xorshift32
    let x = this.#s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#s = x >>> 0;
    return this.#s / 0x1_0000_0000;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }
}

const HOSTILE_VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1e308,
  Number.MAX_SAFE_INTEGER + 2,
  '',
  'x'.repeat(5000),
  '\u0000',
  '\ud800',
  [],
  {},
  { __proto__: { polluted: true } },
  [[[[[]]]]],
  { toString: 'boom' },
  '../../etc/passwd',
  '; rm -rf /',
];

function randomPath(rng: Rng, v: unknown, depth = 0): (string | number)[] {
  if (depth > 4 || v === null || typeof v !== 'object') return [];
  const keys = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
  if (keys.length === 0) return [];
  const k = rng.pick(keys as (string | number)[]);
  return rng.next() < 0.5 ? [k] : [k, ...randomPath(rng, (v as Record<string, unknown>)[k], depth + 1)];
}

function setPath(obj: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = structuredClone(obj) as Record<string | number, unknown>;
  let cur = copy;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  cur[path.at(-1)!] = value;
  return copy;
}

function flipBase64url(rng: Rng, s: string): string {
  if (!s) return 'A';
  const i = rng.int(s.length);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  return s.slice(0, i) + rng.pick(alphabet.split('').filter((c) => c !== s[i])) + s.slice(i + 1);
}

/** One mutated frame (text or binary) from a valid one. */
export function mutateFrame(rng: Rng, valid: Record<string, unknown>): string | Buffer {
  const text = JSON.stringify(valid);
  switch (rng.int(11)) {
    case 0: {
      // flip bytes
      const b = Buffer.from(text);
      for (let n = 1 + rng.int(4); n > 0; n--) b[rng.int(b.length)] = rng.int(256);
      return b.toString('latin1');
    }
    case 1:
      return text.slice(0, rng.int(text.length)); // truncated
    case 2:
      return JSON.stringify(setPath(valid, randomPath(rng, valid), rng.pick(HOSTILE_VALUES)));
    case 3:
      return text.replace(/^\{/, '{"__proto__":{"ok":true},"constructor":{"prototype":{"x":1}},');
    case 4:
      return '['.repeat(20_000) + ']'.repeat(20_000); // deep nesting
    case 5:
      return JSON.stringify({ ...valid, v: rng.pick([0, 2, -1, '1', null, 1.5]) });
    case 6:
      return JSON.stringify({ ...valid, type: rng.pick(['command ', 'COMMAND', 'report', 'hello', 'nope', 42]) });
    case 7: {
      // envelope: a flipped payload or signature (signature no longer matches)
      const env = valid.envelope as { payload?: string; sig?: string } | undefined;
      if (!env) return JSON.stringify({ ...valid, envelope: { payload: 'e30', sig: 'AAAA' } });
      const which = rng.next() < 0.5 ? 'payload' : 'sig';
      return JSON.stringify({ ...valid, envelope: { ...env, [which]: flipBase64url(rng, env[which] ?? '') } });
    }
    case 8: {
      // non-canonical signature: padding or standard base64 alphabet
      const env = valid.envelope as { payload: string; sig: string } | undefined;
      if (!env) return Buffer.from(text);
      const sig = Buffer.from(env.sig, 'base64url').toString('base64');
      return JSON.stringify({ ...valid, envelope: { ...env, sig } });
    }
    case 9:
      return Buffer.from(text); // binary frame
    default:
      return JSON.stringify([valid, valid]);
  }
}
