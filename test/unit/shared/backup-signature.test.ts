import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import {
  canonicalJson,
  canonicalManifestBytes,
  checkManifestSignature,
  parseTrustedSigners,
  placeholderSignature,
  signManifest,
  type ManifestSigner,
} from '../../../shared/backup/signature.js';
import { generateSigningKeyPair, keyFingerprint } from '../../../shared/protocol/signing-keys.js';

const manifest = (): Record<string, unknown> => ({
  format: 'ssr-recovery-backup',
  formatVersion: 1,
  product: { name: 'ssr-recovery', version: '0.1.0' },
  createdAt: '2026-12-01T09:00:00.000Z',
  host: 'cond1',
  node: 'conductor-a',
  missingOptional: [],
  entries: [
    {
      path: 'etc/128technology/global.init',
      type: 'file',
      size: 12,
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtime: '2026-12-01T08:00:00.000Z',
      sha256: 'a'.repeat(64),
    },
    {
      path: 'etc/128technology/salt/pki/master',
      type: 'dir',
      size: 0,
      mode: 0o700,
      uid: 0,
      gid: 0,
      mtime: '2026-12-01T08:00:00.000Z',
    },
  ],
});

describe('shared/backup/signature: Ed25519 over the canonical manifest', () => {
  const alice: ManifestSigner = generateSigningKeyPair();
  const aliceFp = keyFingerprint(alice.publicKey);
  const trusted = new Set([aliceFp]);
  const signed = (): Record<string, unknown> => {
    const m = manifest();
    m.signature = signManifest(m, alice);
    return m;
  };

  it('canonical JSON sorts keys at every level and keeps array order', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } }),
      '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
    );
    assert.equal(canonicalJson({ a: undefined, b: null }), '{"b":null}');
  });

  it('a signed manifest checks as signed by its fingerprint (the agent-key fingerprint), trusted or not judged', () => {
    const m = signed();
    assert.deepEqual(checkManifestSignature(m, trusted), {
      status: 'signed',
      fingerprint: aliceFp,
      trustChecked: true,
      message: `signed by ${aliceFp} (trusted)`,
    });
    assert.equal(checkManifestSignature(m).status, 'signed');
    assert.equal(checkManifestSignature(m).trustChecked, false);
  });

  it('the key order of the JSON does not matter (readers verify what they parsed)', () => {
    const m = signed();
    const reordered = Object.fromEntries(Object.entries(m).reverse());
    assert.equal(checkManifestSignature(JSON.parse(JSON.stringify(reordered)), trusted).status, 'signed');
  });

  it('the placeholder has exactly the final width (the in-place rewrite keeps the reserved length)', () => {
    const m = manifest();
    const placeholder = JSON.stringify(placeholderSignature(alice));
    const final = JSON.stringify(signManifest(m, alice));
    assert.equal(placeholder.length, final.length);
  });

  const tamperings: [string, (m: Record<string, unknown>) => void][] = [
    [
      'a member hash',
      (m) => {
        (m.entries as Record<string, unknown>[])[0]!.sha256 = 'b'.repeat(64);
      },
    ],
    [
      'a member mode',
      (m) => {
        (m.entries as Record<string, unknown>[])[1]!.mode = 0o777;
      },
    ],
    [
      'a member removed',
      (m) => {
        (m.entries as unknown[]).pop();
      },
    ],
    [
      'the creation time',
      (m) => {
        m.createdAt = '2027-01-01T00:00:00.000Z';
      },
    ],
    [
      'the node',
      (m) => {
        m.node = 'conductor-b';
      },
    ],
    [
      'an added field',
      (m) => {
        m.masterFingerprint = '00:11';
      },
    ],
  ];
  for (const [what, change] of tamperings) {
    it(`changing ${what} after signing → invalid (ARCHIVE_SIGNATURE_INVALID)`, () => {
      const m = signed();
      change(m);
      const c = checkManifestSignature(m, trusted);
      assert.equal(c.status, 'invalid');
      assert.equal(c.code, 'ARCHIVE_SIGNATURE_INVALID');
    });
  }

  it("a valid signature by another key → untrusted (ARCHIVE_SIGNER_UNTRUSTED) with that key's fingerprint", () => {
    const mallory = generateSigningKeyPair();
    const m = manifest();
    m.signature = signManifest(m, mallory);
    const c = checkManifestSignature(m, trusted);
    assert.equal(c.status, 'untrusted');
    assert.equal(c.code, 'ARCHIVE_SIGNER_UNTRUSTED');
    assert.equal(c.fingerprint, keyFingerprint(mallory.publicKey));
    assert.equal(checkManifestSignature(m, new Set()).status, 'untrusted', 'an empty trusted set trusts nobody');
  });

  it('identity comes from the key, never the fingerprint field', () => {
    const m = manifest();
    m.signature = { ...signManifest(m, generateSigningKeyPair()), fingerprint: aliceFp };
    assert.equal(checkManifestSignature(m, trusted).status, 'invalid');
  });

  it('no signature → unsigned; malformed signatures → invalid', () => {
    assert.equal(checkManifestSignature(manifest(), trusted).status, 'unsigned');
    const bad: [string, (s: Record<string, unknown>) => unknown][] = [
      ['not an object', () => 'sig'],
      ['another algorithm', (s) => ({ ...s, alg: 'rsa' })],
      ['no key', (s) => ({ ...s, publicKey: undefined })],
      ['a key with padding changed', (s) => ({ ...s, publicKey: `${s.publicKey as string}=` })],
      ['a short value', (s) => ({ ...s, value: (s.value as string).slice(2) })],
      ['a value with padding', (s) => ({ ...s, value: `${s.value as string}==` })],
    ];
    for (const [what, mutate] of bad) {
      const m = signed();
      m.signature = mutate(m.signature as Record<string, unknown>);
      assert.equal(checkManifestSignature(m, trusted).status, 'invalid', what);
    }
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .publicKey.export({ type: 'spki', format: 'der' })
      .toString('base64');
    const m = signed();
    m.signature = { ...(m.signature as object), publicKey: rsa };
    assert.equal(checkManifestSignature(m, trusted).status, 'invalid', 'an RSA key');
  });

  it("domain separation: a signature over the bare canonical JSON (another protocol's message) does not verify", () => {
    const m = manifest();
    const bare = Buffer.from(canonicalJson(m));
    assert.ok(!canonicalManifestBytes(m).equals(bare));
    m.signature = { ...placeholderSignature(alice), value: sign(null, bare, alice.privateKey).toString('base64url') };
    assert.equal(checkManifestSignature(m, trusted).status, 'invalid');
  });

  it('trusted signers: PEM keys, colon or plain hex fingerprints (any case, sha256: prefix); others are problems', () => {
    const bob = generateSigningKeyPair();
    const bobFp = keyFingerprint(bob.publicKey);
    const r = parseTrustedSigners([
      alice.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      bobFp.toUpperCase(),
      `sha256:${bobFp.replace(/:/g, '')}`,
    ]);
    assert.deepEqual([...r.fingerprints].sort(), [aliceFp, bobFp].sort());
    assert.deepEqual(r.problems, []);
    const rsaPem = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    const bad = parseTrustedSigners(['not-a-key', 'ab:cd', rsaPem, aliceFp.slice(3)]);
    assert.equal(bad.fingerprints.size, 0);
    assert.equal(bad.problems.length, 4);
  });
});
