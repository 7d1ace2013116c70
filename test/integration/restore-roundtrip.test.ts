import assert from 'node:assert/strict';
import { promises as fsp, writeFileSync, unlinkSync, chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createBackup } from '../../conductor-agent/backup/run.js';
import { restoreConductor } from '../../conductor-agent/restore/index.js';
import { hasCode } from '../../shared/errors.js';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import {
  fakeService,
  rebuiltTarget,
  signerOf,
  snapshot,
  snapshotDiff,
  testConfig,
  testPorts,
} from './restore-support.js';

const PKI = '/etc/128technology/salt/pki/master';

describe('restore round trip: backup → wipe → restore', function () {
  this.timeout(60_000);
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let src: string;
  let archive: string;
  /** The rebuilt targets have no conductor-agent identity: the old signer is named, as an operator would. */
  let trustedSigners: ReadonlySet<string>;
  const config = testConfig();
  const ports = testPorts;

  before(async () => {
    tmp = await makeTmpDir('restore-rt-');
    src = join(tmp.dir, 'src');
    await makeConductorTree(src, { routers: 20, minions: 4, pending: 1, states: 12 });
    // Owners and modes that must survive: a non-root owned state file, a 0640 pillar.
    await fsp.chown(join(src, 'srv/salt/s1/f1.sls'), 1234, 2345);
    chmodSync(join(src, 'srv/pillar/top.sls'), 0o640);
    const report = await createBackup({ config, root: src, hostname: 'cond1', dir: '/backups' });
    archive = report.archive;
    trustedSigners = await signerOf(src, config);
  });
  after(() => tmp.cleanup());

  it('restores byte-identical files, modes and owners onto a rebuilt conductor', async () => {
    const dst = join(tmp.dir, 'wiped');
    rebuiltTarget(src, dst);
    const svc = fakeService();
    const report = await restoreConductor({
      archive,
      root: dst,
      config,
      trustedSigners,
      ports: { ...ports(), services: [svc] },
    });
    assert.equal(report.ok, true);
    assert.equal(report.verified, true);
    assert.deepEqual(snapshotDiff(snapshot(src, ['/backups', '/var/log']), snapshot(dst)), []);
    assert.deepEqual(
      svc.calls.filter((c) => c !== 'isActive'),
      ['stop', 'start'],
    );
    assert.ok(report.postVerify.every((c) => c.status !== 'fail'));
    assert.equal(report.postVerify.find((c) => c.name === 'master-fingerprint')?.status, 'pass');
    assert.equal(report.postVerify.find((c) => c.name === 'salt-api')?.status, 'skip');
  });

  it('over a drifted conductor: replaces what differs, adds what is missing, keeps extra minion keys', async () => {
    const dst = join(tmp.dir, 'drifted');
    await fsp.cp(src, dst, { recursive: true, preserveTimestamps: true });
    await fsp.rm(join(dst, 'backups'), { recursive: true });
    writeFileSync(join(dst, 'var/lib/128technology/t128-running.json'), '{"datastore":{}}\n');
    unlinkSync(join(dst, 'srv/salt/s2/f2.sls'));
    writeFileSync(join(dst, PKI, 'minions/new-router'), 'extra key accepted after the backup\n');
    chmodSync(join(dst, PKI, 'master.pem'), 0o644);
    const dry = await restoreConductor({ archive, root: dst, config, trustedSigners, dryRun: true, ports: ports() });
    const action = (p: string) => dry.planEntries?.find((e) => e.path === p)?.action;
    assert.equal(action('/var/lib/128technology/t128-running.json'), 'replace');
    assert.equal(action('/srv/salt/s2/f2.sls'), 'add');
    assert.equal(action(`${PKI}/minions/new-router`), 'keep');
    assert.equal(action(`${PKI}/master.pem`), 'replace');
    assert.equal(action('/etc/128technology/global.init'), 'same');
    assert.equal(dry.planEntries?.find((e) => e.path === `${PKI}/master.pem`)?.contentDiffers, false);

    const report = await restoreConductor({ archive, root: dst, config, trustedSigners, ports: ports() });
    assert.equal(report.ok, true);
    const want = snapshot(src, ['/backups']);
    want.delete('/backups');
    const got = snapshot(dst);
    assert.ok(got.get(`${PKI}/minions/new-router`), 'an extra minion key is left alone');
    got.delete(`${PKI}/minions/new-router`);
    assert.deepEqual(snapshotDiff(want, got), []);
  });

  it('dry-run changes nothing and never touches 128T', async () => {
    const dst = join(tmp.dir, 'dry');
    rebuiltTarget(src, dst);
    const before = snapshot(dst);
    const svc = fakeService();
    const report = await restoreConductor({
      archive,
      root: dst,
      config,
      trustedSigners,
      dryRun: true,
      ports: { ...ports(), services: [svc] },
    });
    assert.equal(report.mode, 'dry-run');
    assert.ok((report.plan?.add ?? 0) > 10);
    assert.deepEqual(snapshotDiff(before, snapshot(dst)), []);
    assert.deepEqual(
      svc.calls.filter((c) => c !== 'isActive'),
      [],
    );
  });

  it('refuses a target that is not an initialised conductor (no global.init)', async () => {
    const dst = join(tmp.dir, 'bare');
    mkdirSync(dst);
    const err = await restoreConductor({ archive, root: dst, config, trustedSigners, ports: ports() }).catch(
      (e: unknown) => e,
    );
    assert.ok(hasCode(err, 'RESTORE_PREFLIGHT'));
  });

  it('refuses when there is not enough disk space for staging', async () => {
    const dst = join(tmp.dir, 'full');
    rebuiltTarget(src, dst);
    const err = await restoreConductor({
      archive,
      root: dst,
      config,
      trustedSigners,
      ports: { ...ports(), freeBytes: async () => 1024 },
    }).catch((e: unknown) => e);
    assert.ok(hasCode(err, 'RESTORE_PREFLIGHT'));
    assert.equal(
      (
        err as unknown as { details: { report: { findings: { check: string; level: string }[] } } }
      ).details.report.findings.find((f) => f.check === 'disk.space')?.level,
      'fail',
    );
  });

  it('accepts an archive of another node only with --node naming it', async () => {
    const dst = join(tmp.dir, 'renamed');
    rebuiltTarget(src, dst);
    writeFileSync(join(dst, 'etc/128technology/local.init'), JSON.stringify({ init: { id: 'conductor-b' } }));
    const refused = await restoreConductor({ archive, root: dst, config, trustedSigners, ports: ports() }).catch(
      (e: unknown) => e,
    );
    assert.ok(hasCode(refused, 'RESTORE_PREFLIGHT'));
    const report = await restoreConductor({
      archive,
      root: dst,
      config,
      trustedSigners,
      node: 'conductor-a',
      ports: ports(),
    });
    assert.equal(report.ok, true);
  });

  it('restores an age-encrypted backup with --identity, and refuses without one', async () => {
    const { generateIdentity, identityToRecipient } = await import('age-encryption');
    const identity = await generateIdentity();
    const idFile = join(tmp.dir, 'age-identity.txt');
    writeFileSync(idFile, `# test identity\n${identity}\n`, { mode: 0o600 });
    const encConfig = testConfig({ backup: { encrypt: { recipients: [await identityToRecipient(identity)] } } });
    const enc = await createBackup({ config: encConfig, root: src, hostname: 'cond1', dir: '/backups-enc' });
    assert.equal(enc.encrypted, true);
    const dst = join(tmp.dir, 'encrypted');
    rebuiltTarget(src, dst);
    const refused = await restoreConductor({
      archive: enc.archive,
      root: dst,
      config,
      trustedSigners,
      ports: ports(),
    }).catch((e: unknown) => e);
    assert.ok(hasCode(refused, 'BACKUP_ENCRYPTION_FAILED'));
    const report = await restoreConductor({
      archive: enc.archive,
      root: dst,
      config,
      trustedSigners,
      identityFile: idFile,
      ports: ports(),
    });
    assert.equal(report.ok, true);
    assert.deepEqual(snapshotDiff(snapshot(src, ['/backups', '/backups-enc', '/var/log']), snapshot(dst)), []);
  });
});
