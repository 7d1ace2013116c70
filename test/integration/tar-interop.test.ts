import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tarLib from 'tar';
import { createBackup } from '../../conductor-agent/backup/run.js';
import { verifyArchive } from '../../conductor-agent/backup/verify.js';
import { MANIFEST_NAME } from '../../shared/backup/format.js';
import { conductorSchema } from '../../shared/config/schema.js';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

function run(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

describe('GNU tar interop, both ways', function () {
  this.timeout(60_000);
  let root: string;
  let cleanup: () => Promise<void>;
  // 150 bytes (ustar prefix split) and 260 bytes (pax path record) below /srv/salt.
  const mid = `srv/salt/${'m'.repeat(60)}/${'n'.repeat(70)}.sls`;
  const long = `srv/salt/${'a'.repeat(120)}/${'b'.repeat(120)}/deep.sls`;

  before(async () => {
    ({ dir: root, cleanup } = await makeTmpDir('ssr-interop-'));
    await makeConductorTree(root, { minions: 2, svrSalt: true, shareMinionKey: true });
    for (const p of [mid, long]) {
      mkdirSync(join(root, p, '..'), { recursive: true });
      writeFileSync(join(root, p), `content of ${p.length}\n`, { mode: 0o640 });
    }
  });
  after(async () => cleanup());

  it('GNU tar lists our archive with the manifest first and extracts every file byte for byte, modes kept (long names too)', async () => {
    const report = await createBackup({ config: conductorSchema.parse({}), root, hostname: 'h' });
    run('gzip', ['-t', report.archive]);
    const members = run('tar', ['-tzf', report.archive]).trim().split('\n');
    assert.equal(members[0], MANIFEST_NAME);
    assert.ok(members.includes(mid) && members.includes(long), 'long names listed exactly');
    const out = join(root, 'x1');
    mkdirSync(out);
    run('tar', ['-xzf', report.archive, '-C', out]);
    for (const p of [
      mid,
      long,
      'var/lib/128technology/t128-running.json',
      'etc/128technology/salt/pki/master/master.pem',
    ]) {
      assert.deepEqual(readFileSync(join(out, p)), readFileSync(join(root, p)), p);
      assert.equal(statSync(join(out, p)).mode & 0o7777, statSync(join(root, p)).mode & 0o7777, `mode of ${p}`);
    }
    assert.equal(statSync(join(out, 'etc/128technology/salt/pki/master')).mode & 0o777, 0o700);
  });

  it('node-tar (what restore uses) reads our multi-member gzip the same way', async () => {
    const report = await createBackup({ config: conductorSchema.parse({}), root, hostname: 'h2' });
    const seen: string[] = [];
    await tarLib.t({
      file: report.archive,
      onReadEntry: (e) => {
        seen.push(e.path);
      },
    });
    assert.equal(seen[0], MANIFEST_NAME);
    assert.deepEqual(seen, run('tar', ['-tzf', report.archive]).trim().split('\n'));
  });

  it('accepts an archive made by hand with the seed\'s tar -czf command as "no manifest: unverified"', async () => {
    // The seed's file list (its /svr/salt included); -C stands in for "/" so paths match the seed's.
    const seedArchive = join(root, 'var/log/128technology/conductor-backup-oldhost-2026-24-24.tar.gz');
    run('tar', [
      '-czf',
      seedArchive,
      '-C',
      root,
      'var/lib/128technology/t128-running.json',
      'var/lib/128technology/user-running.json',
      'etc/128technology/salt/pki/master/master.pem',
      'etc/128technology/salt/pki/master/master.pub',
      'etc/128technology/salt/pki/master/minions/',
      'etc/128technology/global.init',
      'etc/128technology/local.init',
      'svr/salt',
    ]);
    const v = await verifyArchive(seedArchive);
    assert.equal(v.ok, true);
    assert.equal(v.status, 'unverified');
    assert.equal(v.manifest, undefined);
    assert.ok(v.members >= 8);
    assert.ok(v.notes.some((n) => n.startsWith('no manifest: unverified')));
  });

  it('reports a gzip that is not a tar, and a truncated archive, as corrupt', async () => {
    const report = await createBackup({ config: conductorSchema.parse({}), root, hostname: 'h3' });
    const bytes = readFileSync(report.archive);
    const cut = join(root, 'cut.tar.gz');
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const v1 = await verifyArchive(cut);
    assert.equal(v1.status, 'failed');
    assert.ok(v1.differences.some((d) => d.kind === 'corrupt'));
    const notTar = join(root, 'not-tar.tar.gz');
    writeFileSync(notTar, spawnSync('gzip', ['-c'], { input: 'hello, not a tar\n'.repeat(100) }).stdout);
    const v2 = await verifyArchive(notTar);
    assert.equal(v2.status, 'failed');
    assert.ok(v2.differences.some((d) => d.kind === 'corrupt'));
  });
});
