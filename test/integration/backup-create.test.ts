import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  appendFileSync,
  unlinkSync,
  rmSync,
  lstatSync,
  renameSync,
  symlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import sinon from 'sinon';
import { createBackup, LOCK_NAME } from '../../conductor-agent/backup/run.js';
import { readManifest } from '../../conductor-agent/backup/read-manifest.js';
import { verifyArchive } from '../../conductor-agent/backup/verify.js';
import { allowlistForConfig } from '../../conductor-agent/restore/allowlist.js';
import { listBackups } from '../../conductor-agent/backup/list.js';
import { systemSourceFs, type SourceFs } from '../../conductor-agent/backup/source-fs.js';
import { acquireLock } from '../../shared/fs/lock.js';
import { conductorSchema, type ConductorConfig } from '../../shared/config/schema.js';
import { hasCode, type RecoveryError } from '../../shared/errors.js';
import { pemFinger } from '../../shared/salt/fingerprint.js';
import { MANIFEST_NAME, type Manifest } from '../../shared/backup/format.js';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import { deadPid } from '../helpers/pids.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

const PKI = 'etc/128technology/salt/pki/master';
const fixedNow = (iso: string) => () => new Date(iso);

function tar(args: string[], cwd?: string): string {
  const r = spawnSync('tar', args, { encoding: 'utf8', cwd, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`tar ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

async function expectCode(p: Promise<unknown>, code: string): Promise<RecoveryError> {
  try {
    await p;
  } catch (err) {
    assert.ok(
      hasCode(err, code as never),
      `expected ${code}, got ${(err as RecoveryError).code}: ${(err as Error).message}`,
    );
    return err as RecoveryError;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

describe('backup create on a generated conductor tree', function () {
  this.timeout(60_000);
  let root: string;
  let cleanup: () => Promise<void>;
  let config: ConductorConfig;
  const backupDir = () => join(root, 'var/log/128technology');
  const archives = () => readdirSync(backupDir()).filter((n) => n.startsWith('conductor-backup-'));

  beforeEach(async () => {
    ({ dir: root, cleanup } = await makeTmpDir('ssr-backup-'));
    await makeConductorTree(root, { minions: 3, pending: 2, svrSalt: true, nodeName: 'node-a', shareMinionKey: true });
    mkdirSync(join(root, PKI, 'minions_rejected'), { recursive: true });
    writeFileSync(join(root, PKI, 'minions_denied/denied-1'), 'x');
    writeFileSync(join(root, PKI, 'master_sign.pem'), 'sign-private', { mode: 0o600 });
    mkdirSync(join(root, 'var/lib/ssr-recovery'), { recursive: true, mode: 0o700 });
    writeFileSync(join(root, 'var/lib/ssr-recovery/agent-key.pem'), 'ed25519 private', { mode: 0o600 });
    mkdirSync(join(root, 'opt/extra'), { recursive: true });
    writeFileSync(join(root, 'opt/extra/notes.txt'), 'extra path\n');
    config = conductorSchema.parse({ backup: { extraPaths: ['/opt/extra'] } });
  });
  afterEach(async () => cleanup());

  it("archives the seed's file set with its bugs fixed, the whole pki folder, our state and extra paths", async () => {
    const report = await createBackup({ config, root, hostname: 'cond-1', now: fixedNow('2026-11-24T10:00:00Z') });
    assert.equal(report.fileName, 'conductor-backup-cond-1-node-a-2026-11-24T100000Z.tar.gz');
    const members = tar(['-tzf', report.archive]).trim().split('\n');
    assert.equal(members[0], MANIFEST_NAME, 'the manifest is the first member');
    for (const want of [
      'var/lib/128technology/t128-running.json',
      'var/lib/128technology/user-running.json',
      'etc/128technology/global.init',
      'etc/128technology/local.init',
      `${PKI}/master.pem`,
      `${PKI}/master.pub`,
      `${PKI}/master_sign.pem`,
      `${PKI}/minions/router-1`,
      `${PKI}/minions_pre/pending-1`,
      `${PKI}/minions_rejected/`,
      `${PKI}/minions_denied/denied-1`,
      'srv/pillar/top.sls',
      'svr/salt/legacy.sls',
      'etc/128technology/config-exports/baseline.gz',
      'var/lib/ssr-recovery/agent-key.pem',
      'opt/extra/notes.txt',
    ])
      assert.ok(members.includes(want), `${want} is in the archive`);
    assert.ok(
      members.some((m) => m.startsWith('srv/salt/s1/')),
      'custom states',
    );
    assert.ok(!members.some((m) => m.startsWith('var/log/128technology')), 'the backup folder never backs itself up');
    assert.equal(new Set(members).size, members.length, 'no member twice');
    assert.equal(report.node, 'node-a');
    assert.equal(report.conductorName, 'conductor');
    assert.deepEqual(report.missingOptional, []);
  });

  it('records a manifest whose hashes, sizes and modes match sha256sum and stat of the files GNU tar extracts', async () => {
    const report = await createBackup({ config, root, hostname: 'cond-1' });
    const out = join(root, 'extract');
    mkdirSync(out);
    tar(['-xzf', report.archive, '-C', out]);
    const manifest = JSON.parse(readFileSync(join(out, MANIFEST_NAME), 'utf8')) as Manifest;
    assert.equal(manifest.host, 'cond-1');
    assert.equal(manifest.node, 'node-a');
    assert.equal(manifest.product.name, 'ssr-recovery');
    assert.equal(manifest.masterFingerprint, pemFinger(readFileSync(join(root, PKI, 'master.pub'))));
    const files = manifest.entries.filter((e) => e.type === 'file');
    assert.equal(files.length, report.files);
    const sums = spawnSync(
      'sha256sum',
      files.map((e) => e.path),
      { cwd: out, encoding: 'utf8' },
    )
      .stdout.trim()
      .split('\n');
    const byPath = new Map(
      sums.map((l) => {
        const [h, p] = l.split(/\s+/);
        return [p!, h!];
      }),
    );
    for (const e of manifest.entries) {
      const src = lstatSync(join(root, e.path));
      assert.equal(e.mode, src.mode & 0o7777, `mode of ${e.path}`);
      assert.equal(e.uid, src.uid);
      if (e.type === 'file') {
        assert.equal(e.sha256, byPath.get(e.path), `sha256 of ${e.path}`);
        assert.equal(e.size, src.size, `size of ${e.path}`);
      }
    }
    assert.equal(manifest.entries.find((e) => e.path === `${PKI}/master.pem`)?.owner, 'root');
  });

  it('writes the archive and its sidecar 0600 in a 0700 folder it creates, and sha256sum -c accepts the sidecar', async () => {
    rmSync(backupDir(), { recursive: true });
    const report = await createBackup({ config, root, hostname: 'cond-1' });
    assert.equal(statSync(report.archive).mode & 0o777, 0o600);
    assert.equal(statSync(`${report.archive}.sha256`).mode & 0o777, 0o600);
    assert.equal(statSync(backupDir()).mode & 0o777, 0o700);
    const check = spawnSync('sha256sum', ['-c', `${report.fileName}.sha256`], { cwd: backupDir(), encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.equal(report.sha256, readFileSync(`${report.archive}.sha256`, 'utf8').split(' ')[0]);
  });

  it('a master.pub that is not PEM: no fingerprint, and the shorter manifest still fills its reserved bytes exactly', async () => {
    writeFileSync(join(root, PKI, 'master.pub'), 'not a key\n');
    const report = await createBackup({ config, root, hostname: 'cond-1' });
    assert.equal(report.masterFingerprint, undefined);
    const v = await verifyArchive(report.archive, { allowlist: allowlistForConfig(config) });
    // Every member and hash agrees; only the key pair fails, as restore would refuse it ("verified" means "restorable").
    assert.deepEqual(
      v.differences.map((d) => d.code),
      ['KEYS_PAIR_MISMATCH'],
      JSON.stringify(v.differences),
    );
    assert.equal(v.manifest?.masterFingerprint, undefined);
  });

  it('follows a symlink named by the plan, but never one inside a folder (regression: a link in /srv/salt must not pull in /etc/shadow)', async () => {
    renameSync(join(root, 'etc/128technology/global.init'), join(root, 'etc/128technology/global.init.real'));
    symlinkSync('global.init.real', join(root, 'etc/128technology/global.init'));
    symlinkSync('/etc/shadow', join(root, 'srv/salt/shadow.sls'));
    const report = await createBackup({ config, root, hostname: 'cond-1' });
    const members = tar(['-tzf', report.archive]).trim().split('\n');
    assert.ok(members.includes('etc/128technology/global.init'));
    assert.ok(!members.includes('srv/salt/shadow.sls'));
    assert.deepEqual(report.skipped, [{ path: '/srv/salt/shadow.sls', reason: 'symbolic link (not followed)' }]);
    const out = join(root, 'x');
    mkdirSync(out);
    tar(['-xzf', report.archive, '-C', out, 'etc/128technology/global.init']);
    assert.ok(lstatSync(join(out, 'etc/128technology/global.init')).isFile());
  });

  it('lists missing optional paths in the report and the manifest', async () => {
    rmSync(join(root, 'var/lib/ssr-recovery'), { recursive: true });
    rmSync(join(root, 'svr'), { recursive: true });
    // Unsigned: a signed backup creates the conductor-agent identity in /var/lib/ssr-recovery first.
    const report = await createBackup({ config, root, hostname: 'cond-1', signer: false });
    assert.deepEqual(report.missingOptional.sort(), ['/svr/salt', '/var/lib/ssr-recovery']);
    assert.deepEqual((await readManifest(report.archive))?.missingOptional.sort(), [
      '/svr/salt',
      '/var/lib/ssr-recovery',
    ]);
  });

  it('refuses with BACKUP_MISSING_FILES naming every missing required file, and writes nothing', async () => {
    unlinkSync(join(root, PKI, 'master.pem'));
    unlinkSync(join(root, 'var/lib/128technology/user-running.json'));
    rmSync(join(root, 'opt/extra'), { recursive: true });
    const err = await expectCode(createBackup({ config, root, hostname: 'cond-1' }), 'BACKUP_MISSING_FILES');
    const missing = (err.details.missing as { path: string }[]).map((m) => m.path).sort();
    assert.deepEqual(missing, [
      '/etc/128technology/salt/pki/master/master.pem',
      '/opt/extra',
      '/var/lib/128technology/user-running.json',
    ]);
    assert.deepEqual(readdirSync(backupDir()), []);
  });

  it('fails with FS_UNREADABLE on a file it cannot read and leaves no archive or temp file', async () => {
    const fs: SourceFs = { ...systemSourceFs };
    sinon.stub(fs, 'openSync').callsFake((p: string) => {
      if (p.endsWith('/minions/router-2'))
        throw Object.assign(new Error(`EACCES: permission denied, open '${p}'`), { code: 'EACCES' });
      return systemSourceFs.openSync(p);
    });
    const err = await expectCode(createBackup({ config, root, hostname: 'cond-1', fs }), 'FS_UNREADABLE');
    assert.equal(err.details.path, `/${PKI}/minions/router-2`);
    assert.deepEqual(readdirSync(backupDir()), []);
  });

  it('fails with BACKUP_FILE_CHANGED when a file keeps growing while it is read, after its attempts (no archive)', async () => {
    const fs: SourceFs = { ...systemSourceFs };
    const running = join(root, 'var/lib/128technology/t128-running.json');
    let grown = 0;
    sinon.stub(fs, 'readSync').callsFake((fd, buf, off, len, pos) => {
      const n = systemSourceFs.readSync(fd, buf, off, len, pos);
      if (buf.subarray(off, off + n).includes('"datastore"')) {
        grown++;
        appendFileSync(running, 'more');
      }
      return n;
    });
    await expectCode(createBackup({ config, root, hostname: 'cond-1', fs }), 'BACKUP_FILE_CHANGED');
    assert.ok(grown > 1, `collected again before giving up (${grown} reads of the changing file)`);
    assert.deepEqual(readdirSync(backupDir()), []);
  });

  it('fails with BACKUP_FILE_CHANGED when files keep vanishing between listing and reading', async () => {
    const fs: SourceFs = { ...systemSourceFs };
    let n = 0;
    sinon.stub(fs, 'openSync').callsFake((p: string) => {
      if (/\/minions_pre\/pending-\d+$/.test(p)) {
        // a key accepted meanwhile, and Salt writing the next one pending, on every attempt
        unlinkSync(p);
        writeFileSync(p.replace(/pending-\d+$/, `pending-${++n + 2}`), 'key');
      }
      return systemSourceFs.openSync(p);
    });
    const err = await expectCode(createBackup({ config, root, hostname: 'cond-1', fs }), 'BACKUP_FILE_CHANGED');
    assert.match(String(err.details.path), new RegExp(`^/${PKI}/minions_pre/pending-`));
    assert.deepEqual(readdirSync(backupDir()), []);
  });

  it('regression (the daemon rewrote its registry by rename mid-backup): a file replaced once is collected again, the archive holds the new version', async () => {
    const fs: SourceFs = { ...systemSourceFs };
    const registry = join(root, 'var/lib/ssr-recovery/agent-registry.json');
    writeFileSync(registry, '{"version":1,"routers":{}}', { mode: 0o600 });
    const tmp = join(root, 'var/lib/ssr-recovery/.agent-registry.json.1.tmp');
    let replaced = false;
    sinon.stub(fs, 'openSync').callsFake((p: string) => {
      if (!replaced && p === registry) {
        replaced = true;
        writeFileSync(tmp, '{"version":1,"routers":{"r1":{}}}', { mode: 0o600 });
        renameSync(tmp, registry);
      }
      return systemSourceFs.openSync(p);
    });
    const report = await createBackup({ config, root, hostname: 'cond-1', fs });
    assert.ok(replaced);
    assert.equal(
      tar(['-xzOf', report.archive, 'var/lib/ssr-recovery/agent-registry.json']),
      '{"version":1,"routers":{"r1":{}}}',
    );
    assert.deepEqual(
      readdirSync(backupDir()).filter((f) => f.endsWith('.tmp')),
      [],
    );
  });

  it('a cancelled run (daemon shutdown) stops between files and leaves nothing', async () => {
    const fs: SourceFs = { ...systemSourceFs };
    const ac = new AbortController();
    sinon.stub(fs, 'readSync').callsFake((fd, buf, off, len, pos) => {
      ac.abort();
      return systemSourceFs.readSync(fd, buf, off, len, pos);
    });
    await expectCode(createBackup({ config, root, hostname: 'cond-1', fs, signal: ac.signal }), 'BACKUP_FAILED');
    assert.deepEqual(readdirSync(backupDir()), []);
  });

  it('runs one backup at a time: a live lock holder gives LOCK_HELD; a dead one on this host is taken over', async () => {
    const lockPath = join(backupDir(), LOCK_NAME);
    const held = await acquireLock(lockPath, { purpose: 'backup' });
    await expectCode(createBackup({ config, root, hostname: 'cond-1' }), 'LOCK_HELD');
    await held.release();
    const dead = deadPid();
    writeFileSync(
      lockPath,
      JSON.stringify({
        pid: dead,
        host: (await import('node:os')).hostname(),
        since: new Date().toISOString(),
        purpose: 'backup',
      }),
    );
    const report = await createBackup({ config, root, hostname: 'cond-1' });
    assert.ok(report.ok);
    assert.deepEqual(
      readdirSync(backupDir()).filter((n) => n === LOCK_NAME),
      [],
      'lock released',
    );
  });

  it('two concurrent runs: exactly one writes, the other gets LOCK_HELD', async () => {
    const results = await Promise.allSettled([
      createBackup({ config, root, hostname: 'cond-1', now: fixedNow('2026-11-24T10:00:00Z') }),
      createBackup({ config, root, hostname: 'cond-1', now: fixedNow('2026-11-24T10:00:01Z') }),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.ok(hasCode(rejected.reason, 'LOCK_HELD'));
    assert.equal(archives().filter((n) => n.endsWith('.tar.gz')).length, 1);
  });

  it('removes temp files of a killed run (dead pid) and orphan sidecars before writing', async () => {
    const dead = deadPid();
    const stale = `.conductor-backup-cond-1-node-a-2026-11-23T100000Z.tar.gz.${dead}.0badc0de.tmp`;
    writeFileSync(join(backupDir(), stale), 'partial');
    writeFileSync(join(backupDir(), 'conductor-backup-cond-1-node-a-2026-11-23T110000Z.tar.gz.sha256'), 'orphan');
    const report = await createBackup({ config, root, hostname: 'cond-1' });
    assert.deepEqual(
      report.cleaned.sort(),
      [stale, 'conductor-backup-cond-1-node-a-2026-11-23T110000Z.tar.gz.sha256'].sort(),
    );
    assert.deepEqual(readdirSync(backupDir()).sort(), [report.fileName, `${report.fileName}.sha256`].sort());
  });

  it('applies retention after the run when asked (scheduled runs do), deleting archive and sidecar, never a hand-made archive; list shows both kinds', async () => {
    for (const t of ['2026-11-20T10:00:00Z', '2026-11-21T10:00:00Z', '2026-11-22T10:00:00Z']) {
      await createBackup({ config, root, hostname: 'cond-1', now: fixedNow(t) });
    }
    writeFileSync(join(backupDir(), 'conductor-backup-cond-1-2026-23-23.tar.gz'), 'made by hand with the seed command');
    const report = await createBackup({
      config,
      root,
      hostname: 'cond-1',
      now: fixedNow('2026-11-23T10:00:00Z'),
      prune: { last: 2, daily: 0, weekly: 0 },
    });
    assert.equal(report.pruned?.deleted.length, 2);
    assert.deepEqual(
      report.pruned?.ignored,
      ['conductor-backup-cond-1-2026-23-23.tar.gz'],
      'hand-made archives are never deleted',
    );
    const listed = await listBackups(backupDir(), { host: 'cond-1', now: fixedNow('2026-11-23T10:01:00Z') });
    assert.deepEqual(
      listed.filter((b) => b.kind === 'ours').map((b) => [b.node, b.sidecar]),
      [
        ['node-a', 'ok'],
        ['node-a', 'ok'],
      ],
    );
    assert.deepEqual(
      listed.filter((b) => b.kind === 'hand-made').map((b) => [b.node, b.sidecar]),
      [[undefined, 'missing']],
    );
    assert.equal(listed.find((b) => b.kind === 'ours')?.ageSeconds, 60);
    unlinkSync(join(backupDir(), 'conductor-backup-cond-1-2026-23-23.tar.gz'));
    assert.deepEqual(archives().sort(), [
      'conductor-backup-cond-1-node-a-2026-11-22T100000Z.tar.gz',
      'conductor-backup-cond-1-node-a-2026-11-22T100000Z.tar.gz.sha256',
      'conductor-backup-cond-1-node-a-2026-11-23T100000Z.tar.gz',
      'conductor-backup-cond-1-node-a-2026-11-23T100000Z.tar.gz.sha256',
    ]);
  });
});
