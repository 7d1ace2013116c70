import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBackup } from '../../conductor-agent/backup/run.js';
import { conductorSchema, type ConductorConfig } from '../../shared/config/schema.js';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';

describe('off-box copy over SFTP to a real OpenSSH sshd on loopback', function () {
  this.timeout(60_000);
  let sshd: Sshd;
  let root: string;
  let cleanup: () => Promise<void>;
  let remoteDir: string;
  const configWith = (offbox: Partial<NonNullable<ConductorConfig['backup']['offbox']>>): ConductorConfig =>
    conductorSchema.parse({
      backup: {
        offbox: {
          host: sshd.host,
          port: sshd.port,
          username: sshd.username,
          privateKeyFile: '/etc/ssr-recovery/offbox_ed25519',
          hostKeyFingerprint: sshd.hostKeyFingerprint,
          dir: remoteDir,
          keepLast: 2,
          ...offbox,
        },
      },
    });

  before(async () => {
    sshd = await startSshd();
    ({ dir: root, cleanup } = await makeTmpDir('ssr-offbox-'));
    await makeConductorTree(root, { minions: 2, shareMinionKey: true });
    mkdirSync(join(root, 'etc/ssr-recovery'), { recursive: true, mode: 0o700 });
    copyFileSync(sshd.clientKeyFile, join(root, 'etc/ssr-recovery/offbox_ed25519'));
    remoteDir = join(sshd.dir, 'remote-backups');
  });
  after(async () => {
    await sshd?.stop();
    await cleanup?.();
  });

  it('uploads, checks size and hash of the remote copy, adds the sidecar, and keeps the newest keepLast remotely', async () => {
    const config = configWith({});
    const reports = [];
    for (const t of ['2026-11-20T01:00:00Z', '2026-11-21T01:00:00Z', '2026-11-22T01:00:00Z']) {
      reports.push(await createBackup({ config, root, hostname: 'h', now: () => new Date(t) }));
    }
    const last = reports[2]!;
    assert.equal(last.offbox?.ok, true, JSON.stringify(last.offbox));
    assert.equal(last.offbox?.remotePath, join(remoteDir, last.fileName));
    const remote = readFileSync(join(remoteDir, last.fileName));
    assert.equal(createHash('sha256').update(remote).digest('hex'), last.sha256);
    assert.equal(
      readFileSync(join(remoteDir, `${last.fileName}.sha256`), 'utf8'),
      readFileSync(`${last.archive}.sha256`, 'utf8'),
    );
    assert.deepEqual(last.offbox?.pruned, [reports[0]!.fileName]);
    assert.deepEqual(
      readdirSync(remoteDir).sort(),
      [reports[1]!.fileName, `${reports[1]!.fileName}.sha256`, last.fileName, `${last.fileName}.sha256`].sort(),
      'no .part left, oldest pruned with its sidecar',
    );
  });

  it('refuses a server whose host key is not the pinned one (SSH_HOST_KEY_MISMATCH) and uploads nothing; the local backup stands', async () => {
    const otherDir = join(sshd.dir, 'never-written');
    const config = configWith({
      hostKeyFingerprint: `SHA256:${createHash('sha256').update('another host').digest('base64').replace(/=+$/, '')}`,
      dir: otherDir,
    });
    const report = await createBackup({ config, root, hostname: 'h', now: () => new Date('2026-11-23T01:00:00Z') });
    assert.equal(report.offbox?.ok, false);
    assert.equal(report.offbox?.error?.code, 'SSH_HOST_KEY_MISMATCH');
    assert.equal(existsSync(otherDir), false, 'nothing was sent');
    assert.ok(existsSync(report.archive), 'the local archive is kept');
  });

  it('reports a refused login as SSH_FAILED', async () => {
    const config = configWith({ username: 'nobody-here', dir: join(sshd.dir, 'x') });
    const report = await createBackup({ config, root, hostname: 'h', now: () => new Date('2026-11-24T01:00:00Z') });
    assert.equal(report.offbox?.ok, false);
    assert.equal(report.offbox?.error?.code, 'SSH_FAILED');
  });
});
