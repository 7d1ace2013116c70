import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { createBackup } from '../../conductor-agent/backup/run.js';
import { verifyArchive } from '../../conductor-agent/backup/verify.js';
import { openArchive } from '../../conductor-agent/backup/open-archive.js';
import { conductorSchema } from '../../shared/config/schema.js';
import { hasCode } from '../../shared/errors.js';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

describe('encrypted backups (age)', function () {
  this.timeout(60_000);
  let root: string;
  let cleanup: () => Promise<void>;
  let identityFile: string;
  let otherIdentityFile: string;
  let recipient: string;

  before(async () => {
    ({ dir: root, cleanup } = await makeTmpDir('ssr-age-'));
    await makeConductorTree(root, { minions: 2, shareMinionKey: true });
    const id = await generateIdentity();
    recipient = await identityToRecipient(id);
    identityFile = join(root, 'backup-identity.txt');
    writeFileSync(identityFile, `# created: test\n# public key: ${recipient}\n${id}\n`, { mode: 0o600 });
    otherIdentityFile = join(root, 'other-identity.txt');
    writeFileSync(otherIdentityFile, `${await generateIdentity()}\n`, { mode: 0o600 });
  });
  after(async () => cleanup());

  it('round trip: .tar.gz.age with no plaintext key inside, verified with the identity, refused without it or with another', async () => {
    const config = conductorSchema.parse({ backup: { encrypt: { recipients: [recipient] } } });
    const report = await createBackup({ config, root, hostname: 'h' });
    assert.ok(report.encrypted);
    assert.match(report.fileName, /\.tar\.gz\.age$/);
    const bytes = readFileSync(report.archive);
    assert.ok(bytes.subarray(0, 30).toString().startsWith('age-encryption.org/v1'));
    assert.ok(!bytes.includes('PRIVATE KEY'), 'the master key is not readable in the file');
    // The sidecar covers the encrypted file as stored.
    const check = spawnSync('sha256sum', ['-c', `${report.fileName}.sha256`], {
      cwd: join(root, 'var/log/128technology'),
      encoding: 'utf8',
    });
    assert.equal(check.status, 0, check.stderr);

    const v = await verifyArchive(report.archive, { identityFile });
    assert.equal(v.status, 'verified');
    assert.equal(v.encrypted, true);
    assert.equal(v.sidecar, 'ok');
    assert.equal(v.manifest?.node, 'conductor-a');

    await assert.rejects(verifyArchive(report.archive), (e) => hasCode(e, 'BACKUP_ENCRYPTION_FAILED'));

    // What restore reads: the decrypted gzip'd tar, which GNU tar lists like any other backup.
    const plain = await openArchive(report.archive, { identityFile });
    const chunks: Buffer[] = [];
    for await (const c of plain) chunks.push(c as Buffer);
    const listed = spawnSync('tar', ['-tzf', '-'], { input: Buffer.concat(chunks), encoding: 'utf8' });
    assert.equal(listed.stdout.split('\n')[0], 'ssr-recovery-manifest.json');
    const wrong = await verifyArchive(report.archive, { identityFile: otherIdentityFile });
    assert.equal(wrong.status, 'failed');
    assert.ok(wrong.differences.some((d) => d.kind === 'decrypt-failed'));
  });

  it('refuses a malformed recipient with BACKUP_ENCRYPTION_FAILED and leaves no archive', async () => {
    const config = conductorSchema.parse({
      backup: { dir: '/var/backups-bad', encrypt: { recipients: ['age1notakey'] } },
    });
    await assert.rejects(createBackup({ config, root, hostname: 'h' }), (e) => hasCode(e, 'BACKUP_ENCRYPTION_FAILED'));
    const left = spawnSync('ls', ['-A', join(root, 'var/backups-bad')], { encoding: 'utf8' }).stdout.trim();
    assert.equal(left, '');
  });
});
