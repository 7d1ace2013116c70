import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import {
  checkEnrollment,
  decodeBase64urlStrict,
  decodeEnrollment,
  ENROLL_ALG,
  ENROLL_PURPOSE,
  ENROLL_TAG,
  loadMinionPublicKey,
  parseEnrollEvent,
  signEnrollStatement,
  validRouterId,
} from '../../../../shared/protocol/enroll.js';

describe('shared/protocol/enroll', () => {
  const key = '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n';
  it('picks the payload and the (unproven) event id out of the reference §10 event shape', () => {
    const payload = { agentPublicKey: key, agentKeyFingerprint: 'ab', agentVersion: '0.1.0', __pub_fun: 'event.send' };
    const data = { id: 'router-1', tag: ENROLL_TAG, cmd: '_minion_event', data: payload, _stamp: 'x' };
    assert.deepEqual(parseEnrollEvent(ENROLL_TAG, data), { eventId: 'router-1', data: payload });
    assert.equal(parseEnrollEvent('salt/auth', data), undefined);
    assert.equal(parseEnrollEvent(ENROLL_TAG, { id: 'r', data: 'x' }), undefined);
  });

  it('signs with RSASSA-PSS SHA-256 over the exact statement bytes, verified with the public key', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const st = {
      purpose: ENROLL_PURPOSE,
      router: 'r1',
      agentPublicKey: key,
      agentVersion: 'v',
      issuedAt: 1000,
      nonce: 'n'.repeat(24),
    } as const;
    const signed = signEnrollStatement(st, privateKey);
    const d = decodeEnrollment({ eventId: 'r1', data: { ...signed, alg: ENROLL_ALG } });
    assert.ok(d.ok);
    const pub = loadMinionPublicKey(publicKey.export({ type: 'spki', format: 'pem' }).toString());
    assert.ok(pub);
    assert.equal(checkEnrollment(d.value, pub, 1000, 60_000).ok, true);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const bad = checkEnrollment(d.value, other, 1000, 60_000);
    assert.equal(bad.ok ? 'ok' : bad.reason, 'bad-signature');
  });

  it('accepts only RSA minion keys of 2048 bits or more, and strict base64url', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    assert.equal(loadMinionPublicKey(small), undefined);
    assert.equal(loadMinionPublicKey(key), undefined, 'not RSA');
    assert.equal(decodeBase64urlStrict('YWJj')?.toString(), 'abc');
    assert.equal(decodeBase64urlStrict('YWJj=='), undefined);
    assert.equal(decodeBase64urlStrict('YWJ+'), undefined);
    assert.equal(decodeBase64urlStrict('YR'), undefined, 'non-zero padding bits are not canonical');
  });

  it('router ids are safe file names', () => {
    for (const bad of ['', '.', '..', 'a/b', 'a\\b', 'a\u0000b', 'x\ny', 'z'.repeat(256)])
      assert.equal(validRouterId(bad), false, bad);
    for (const good of ['router-1', 'dc1.rtr_2', 'a'.repeat(255)]) assert.equal(validRouterId(good), true, good);
  });
});
