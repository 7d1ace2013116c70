import assert from 'node:assert/strict';
import { hasCode } from '../../../../shared/errors.js';
import { generateSigningKeyPair, keyFingerprint, loadPublicKeys } from '../../../../shared/protocol/signing-keys.js';
import {
  signEnvelope,
  verifyEnvelope,
  MAX_ENVELOPE_TTL_MS,
  DEFAULT_MAX_SKEW_MS,
} from '../../../../shared/protocol/envelope.js';
import { ReplayCache } from '../../../../shared/protocol/replay-cache.js';
import { systemRandom } from '../../../../shared/ports/random.js';

describe('shared/protocol/envelope', () => {
  const conductor = generateSigningKeyPair();
  const rogue = generateSigningKeyPair();
  let now = 1_800_000_000_000;
  const clock = { now: () => now };
  const body = { id: 'c1', name: 'reauth', fingerprint: 'aa' };
  const make = (over: Partial<Parameters<typeof signEnvelope>[0]> = {}) =>
    signEnvelope({
      kind: 'command',
      router: 'r1',
      body,
      privateKey: conductor.privateKey,
      clock,
      random: systemRandom,
      ...over,
    });
  const opts = (replay?: ReplayCache) => ({
    kind: 'command' as const,
    publicKeys: [conductor.publicKey],
    router: 'r1',
    clock,
    replay,
  });

  beforeEach(() => {
    now = 1_800_000_000_000;
  });

  it('accepts a fresh envelope signed by a pinned key and returns its payload', () => {
    const p = verifyEnvelope(make(), opts(new ReplayCache({ clock })));
    assert.deepEqual(p.body, body);
    assert.equal(p.router, 'r1');
  });

  it('accepts any of several pinned keys (HA conductor pair)', () => {
    const other = generateSigningKeyPair();
    const keys = loadPublicKeys(other.publicPem + conductor.publicPem);
    assert.equal(keys.length, 2);
    verifyEnvelope(make(), { ...opts(), publicKeys: keys });
  });

  it('refuses a wrong signer with PROTOCOL_BAD_SIGNATURE', () => {
    assert.throws(
      () => verifyEnvelope(make({ privateKey: rogue.privateKey }), opts()),
      (e) => hasCode(e, 'PROTOCOL_BAD_SIGNATURE'),
    );
  });

  it('refuses a tampered payload with PROTOCOL_BAD_SIGNATURE', () => {
    const env = make();
    const p = JSON.parse(Buffer.from(env.payload, 'base64url').toString()) as Record<string, unknown>;
    p.router = 'r2';
    const forged = { ...env, payload: Buffer.from(JSON.stringify(p)).toString('base64url') };
    assert.throws(
      () => verifyEnvelope(forged, { ...opts(), router: 'r2' }),
      (e) => hasCode(e, 'PROTOCOL_BAD_SIGNATURE'),
    );
  });

  it('refuses an envelope naming another router with PROTOCOL_WRONG_ROUTER', () => {
    assert.throws(
      () => verifyEnvelope(make({ router: 'r2' }), opts()),
      (e) => hasCode(e, 'PROTOCOL_WRONG_ROUTER'),
    );
  });

  it('refuses an expired envelope, and one issued in the future beyond the skew, with PROTOCOL_EXPIRED', () => {
    const env = make({ ttlMs: 60_000 });
    now += 60_000 + DEFAULT_MAX_SKEW_MS;
    assert.throws(
      () => verifyEnvelope(env, opts()),
      (e) => hasCode(e, 'PROTOCOL_EXPIRED'),
    );
    const future = make();
    now -= 60_000 + 2 * DEFAULT_MAX_SKEW_MS + 1;
    assert.throws(
      () => verifyEnvelope(future, opts()),
      (e) => hasCode(e, 'PROTOCOL_EXPIRED'),
    );
  });

  it('refuses an envelope whose lifetime is longer than allowed (standing replay risk)', () => {
    assert.throws(
      () => verifyEnvelope(make({ ttlMs: MAX_ENVELOPE_TTL_MS + 1 }), opts()),
      (e) => hasCode(e, 'PROTOCOL_EXPIRED'),
    );
  });

  it('refuses a replayed nonce with PROTOCOL_REPLAYED, and forgets it only after expiry', () => {
    const cache = new ReplayCache({ clock });
    const env = make({ ttlMs: 10_000 });
    verifyEnvelope(env, opts(cache));
    assert.throws(
      () => verifyEnvelope(env, opts(cache)),
      (e) => hasCode(e, 'PROTOCOL_REPLAYED'),
    );
    now += 10_000 + DEFAULT_MAX_SKEW_MS;
    cache.prune();
    assert.equal(cache.size, 0);
  });

  it('does not remember nonces of envelopes that failed verification (a forger cannot burn nonces)', () => {
    const cache = new ReplayCache({ clock });
    assert.throws(() => verifyEnvelope(make({ router: 'r2' }), opts(cache)));
    assert.throws(() => verifyEnvelope(make({ privateKey: rogue.privateKey }), opts(cache)));
    assert.equal(cache.size, 0);
  });

  it('refuses a report presented as a command (kind is signed)', () => {
    const env = make({ kind: 'report' });
    assert.throws(
      () => verifyEnvelope(env, opts()),
      (e) => hasCode(e, 'PROTOCOL_MALFORMED'),
    );
  });

  it('refuses malformed envelopes with PROTOCOL_MALFORMED', () => {
    for (const bad of [null, 'x', {}, { payload: 'a b', sig: 'c' }, { payload: 1, sig: 'x' }]) {
      assert.throws(
        () => verifyEnvelope(bad, opts()),
        (e) => hasCode(e, 'PROTOCOL_MALFORMED') || hasCode(e, 'PROTOCOL_BAD_SIGNATURE'),
      );
    }
    assert.throws(
      () => verifyEnvelope({ payload: 'abc', sig: 'def' }, opts()),
      (e) => hasCode(e, 'PROTOCOL_BAD_SIGNATURE'),
    );
  });

  it('names keys by the SHA-256 of their SPKI DER', () => {
    assert.match(keyFingerprint(conductor.publicPem), /^[0-9a-f]{2}(:[0-9a-f]{2}){31}$/);
    assert.equal(keyFingerprint(conductor.publicKey), keyFingerprint(conductor.privateKey));
  });
});
