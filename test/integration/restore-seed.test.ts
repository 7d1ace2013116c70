import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { restoreConductor } from '../../conductor-agent/restore/index.js';
import { hasCode } from '../../shared/errors.js';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { rebuiltTarget, snapshot, snapshotDiff, testConfig, testPorts } from './restore-support.js';

// The seed's own list (reference/ssr.md §1.2), typo included, relative to the root prefix as
// GNU tar stores `tar -czf … /var/lib/…` (leading `/` removed).
const SEED_FILES = [
  'var/lib/128technology/t128-running.json',
  'var/lib/128technology/user-running.json',
  'etc/128technology/salt/pki/master/master.pem',
  'etc/128technology/salt/pki/master/master.pub',
  'etc/128technology/salt/pki/master/minions/',
  'etc/128technology/global.init',
  'etc/128technology/local.init',
  'svr/salt',
];

describe('restore of a seed-made tarball (tar -czf, no manifest, /svr/salt)', function () {
  this.timeout(60_000);
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let src: string;
  let archive: string;
  const config = testConfig();
  const ports = testPorts;

  before(async () => {
    tmp = await makeTmpDir('restore-seed-');
    src = join(tmp.dir, 'src');
    await makeConductorTree(src, { minions: 3, svrSalt: true });
    symlinkSync('legacy.sls', join(src, 'svr/salt/latest.sls')); // a benign link inside the restore set
    archive = join(tmp.dir, 'conductor-backup-conductor-2026-24-24.tar.gz');
    execFileSync('tar', ['-C', src, '-czf', archive, ...SEED_FILES]);
  });
  after(() => tmp.cleanup());

  it('refuses without confirmation (unverified archive), changing nothing', async () => {
    const dst = join(tmp.dir, 'noyes');
    rebuiltTarget(src, dst);
    const before = snapshot(dst);
    const err = await restoreConductor({ archive, root: dst, config, ports: ports() }).catch((e: unknown) => e);
    assert.ok(hasCode(err, 'RESTORE_NEEDS_CONFIRMATION'));
    assert.deepEqual(snapshotDiff(before, snapshot(dst)), []);
  });

  it('restores with --yes: the seed files, minion keys, and /svr/salt as /srv/salt', async () => {
    const dst = join(tmp.dir, 'yes');
    rebuiltTarget(src, dst);
    const report = await restoreConductor({ archive, root: dst, config, yes: true, ports: ports() });
    assert.equal(report.ok, true);
    assert.equal(report.verified, false);
    assert.equal(report.findings.find((f) => f.check === 'archive.format')?.level, 'warn');
    assert.equal(
      readFileSync(join(dst, 'srv/salt/legacy.sls'), 'utf8'),
      readFileSync(join(src, 'svr/salt/legacy.sls'), 'utf8'),
    );
    assert.ok(!existsSync(join(dst, 'svr')));
    assert.equal(readlinkSync(join(dst, 'srv/salt/latest.sls')), 'legacy.sls');
    const want = snapshot(join(src, 'etc/128technology/salt/pki/master'));
    for (const d of ['/minions_pre', '/minions_rejected', '/minions_denied']) want.delete(d); // not in the seed's list
    assert.deepEqual(snapshotDiff(want, snapshot(join(dst, 'etc/128technology/salt/pki/master'))), []);
    assert.equal(
      readFileSync(join(dst, 'var/lib/128technology/t128-running.json'), 'utf8'),
      readFileSync(join(src, 'var/lib/128technology/t128-running.json'), 'utf8'),
    );
    assert.equal(report.postVerify.find((c) => c.name === 'master-fingerprint')?.status, 'pass');
  });

  it('an interactive confirmation stands in for --yes', async () => {
    const dst = join(tmp.dir, 'asked');
    rebuiltTarget(src, dst);
    let asked = '';
    const report = await restoreConductor({
      archive,
      root: dst,
      config,
      ports: {
        ...ports(),
        confirm: async (q) => {
          asked = q;
          return true;
        },
      },
    });
    assert.equal(report.ok, true);
    assert.ok(asked.length > 0, 'the operator was asked');
  });
});
