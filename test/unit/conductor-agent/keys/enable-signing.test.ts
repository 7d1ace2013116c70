import assert from 'node:assert/strict';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { enableSigning } from '../../../../conductor-agent/keys/enable-signing.js';
import { masterKeyStatus } from '../../../../conductor-agent/keys/status.js';
import { verifyMasterPubSignature } from '../../../../conductor-agent/keys/signature.js';
import { hasCode } from '../../../../shared/errors.js';
import { keySandbox, treeSnapshot, type KeySandbox } from './sandbox.js';

describe('conductor-agent/keys/enable-signing', () => {
  let s: KeySandbox;
  const opts = () => ({
    pkiDir: s.pkiDir,
    masterConfig: s.masterConfig,
    exportDir: s.exportDir,
    now: () => new Date('2026-11-24T12:00:00Z'),
  });
  beforeEach(async () => {
    s = await keySandbox();
  });
  afterEach(() => s.cleanup());

  it('dry run lists every change and leaves the tree byte-identical', async () => {
    const before = await treeSnapshot(s.root);
    const r = await enableSigning({ ...opts(), dryRun: true });
    assert.deepEqual(
      r.changes.map((c) => c.action),
      ['create-key-pair', 'write-signature', 'backup', 'edit-config', 'export'],
    );
    assert.deepEqual(await treeSnapshot(s.root), before);
  });

  it('creates the signing pair (0600 in a 0700 folder), a valid signature, the config edit with backup, and the export', async () => {
    const r = await enableSigning(opts());
    const pki = s.pkiDir;
    assert.equal((await stat(join(pki, 'master_sign.pem'))).mode & 0o777, 0o600);
    assert.equal((await stat(pki)).mode & 0o777, 0o700);
    const signPub = await readFile(join(pki, 'master_sign.pub'), 'utf8');
    const sig = await readFile(join(pki, 'master_pubkey_signature'), 'utf8');
    assert.ok(verifyMasterPubSignature(signPub, await readFile(join(pki, 'master.pub'), 'utf8'), sig));
    assert.equal(await readFile(join(s.exportDir, 'master_sign.pub'), 'utf8'), signPub);
    assert.ok(r.configBackup && (await readFile(r.configBackup, 'utf8')).startsWith('# SSR conductor salt master'));
    const st = await masterKeyStatus({ pkiDir: pki, masterConfig: s.masterConfig });
    assert.equal(st.signing.enabled, true);
    assert.equal(st.signing.signatureValid, true);
    assert.equal(st.signing.signPublicKeyFingerprint, r.signPublicKeyFingerprint);
    assert.deepEqual(st.warnings, []);
  });

  it('is idempotent: a second run changes nothing and never replaces the signing pair', async () => {
    await enableSigning(opts());
    const pem = await readFile(join(s.pkiDir, 'master_sign.pem'), 'utf8');
    const r = await enableSigning(opts());
    assert.deepEqual(r.changes, []);
    assert.equal(await readFile(join(s.pkiDir, 'master_sign.pem'), 'utf8'), pem);
    assert.equal((await readdir(join(s.root, 'etc/128technology/salt'))).filter((n) => n.endsWith('.bak')).length, 1);
  });

  it('--precomputed also turns on master_use_pubkey_signature', async () => {
    await enableSigning({ ...opts(), precomputed: true });
    const st = await masterKeyStatus({ pkiDir: s.pkiDir, masterConfig: s.masterConfig });
    assert.equal(st.signing.precomputed, true);
    assert.equal(st.signing.signatureValid, true);
  });

  it('refuses with KEYS_REFUSED when master_sign.pub exists without its private key, changing nothing', async () => {
    await enableSigning(opts());
    await rm(join(s.pkiDir, 'master_sign.pem'));
    const before = await treeSnapshot(s.root);
    await assert.rejects(enableSigning(opts()), (e) => hasCode(e, 'KEYS_REFUSED'));
    assert.deepEqual(await treeSnapshot(s.root), before);
  });
});
