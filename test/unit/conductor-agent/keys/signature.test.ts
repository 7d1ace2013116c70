import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey, sign } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { signMasterPub, signedMessage, verifyMasterPubSignature } from '../../../../conductor-agent/keys/signature.js';
import { generateSaltKeyPair, isKeyPair, publicKeyOf } from '../../../../conductor-agent/keys/rsa.js';
import { makeTmpDir } from '../../../helpers/tmpdir.js';

describe('conductor-agent/keys/signature (signed master keys, reference §5)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await makeTmpDir()));
  after(() => cleanup());

  it('writes keys in Salt form: PKCS#1 private PEM, SPKI public PEM, one pair', async () => {
    const p = await generateSaltKeyPair();
    assert.match(p.privateKey, /^-----BEGIN RSA PRIVATE KEY-----\n/);
    assert.match(p.publicKey, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
    assert.ok(isKeyPair(p.privateKey, p.publicKey));
    assert.equal(publicKeyOf(p.privateKey), p.publicKey);
  });

  it('signs clean_key(master.pub) so that openssl verifies it over the newline-stripped PEM', async () => {
    const sign_ = await generateSaltKeyPair();
    const master = await generateSaltKeyPair();
    const sigText = signMasterPub(sign_.privateKey, master.publicKey);
    assert.match(sigText, /^[A-Za-z0-9+/]+={0,2}\n$/, 'one base64 line + newline, like binascii.b2a_base64');
    await writeFile(join(dir, 'sign.pub'), sign_.publicKey);
    await writeFile(join(dir, 'sig.bin'), Buffer.from(sigText, 'base64'));
    await writeFile(join(dir, 'clean.txt'), signedMessage(master.publicKey));
    await writeFile(join(dir, 'raw.txt'), master.publicKey);
    assert.ok(!signedMessage(master.publicKey).toString().endsWith('\n'));
    const ok = spawnSync(
      'openssl',
      ['dgst', '-sha1', '-verify', join(dir, 'sign.pub'), '-signature', join(dir, 'sig.bin'), join(dir, 'clean.txt')],
      { encoding: 'utf8' },
    );
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    const raw = spawnSync(
      'openssl',
      ['dgst', '-sha1', '-verify', join(dir, 'sign.pub'), '-signature', join(dir, 'sig.bin'), join(dir, 'raw.txt')],
      { encoding: 'utf8' },
    );
    assert.notEqual(raw.status, 0, 'the file bytes (with trailing newline) are not what minions verify');
    assert.ok(verifyMasterPubSignature(sign_.publicKey, master.publicKey, sigText));
  });

  it('regression salt#68930 (gen_signature signs the raw file): such a signature is reported invalid', async () => {
    const sign_ = await generateSaltKeyPair();
    const master = await generateSaltKeyPair();
    const buggy = `${sign('sha1', Buffer.from(master.publicKey), createPrivateKey(sign_.privateKey)).toString('base64')}\n`;
    assert.equal(verifyMasterPubSignature(sign_.publicKey, master.publicKey, buggy), false);
  });

  it('verifies a signature made by openssl over the clean key (interop the other way)', async () => {
    const sign_ = await generateSaltKeyPair();
    const master = await generateSaltKeyPair();
    await writeFile(join(dir, 'sign.pem'), sign_.privateKey);
    await writeFile(join(dir, 'clean2.txt'), signedMessage(master.publicKey));
    const sig = execFileSync('openssl', ['dgst', '-sha1', '-sign', join(dir, 'sign.pem'), join(dir, 'clean2.txt')]);
    assert.ok(verifyMasterPubSignature(sign_.publicKey, master.publicKey, `${sig.toString('base64')}\n`));
    assert.equal(verifyMasterPubSignature(sign_.publicKey, master.publicKey, 'not base64!\n'), false);
  });
});
