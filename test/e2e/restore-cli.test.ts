import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { createBackup } from '../../conductor-agent/backup/run.js';
import { ExitCode } from '../../shared/exit-codes.js';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { rebuiltTarget, signerOf, snapshot, snapshotDiff, testConfig } from '../integration/restore-support.js';

const bin = fileURLToPath(new URL('../../conductor-agent/bin.ts', import.meta.url));

/** The real CLI from source, with 128T driven by configured command lines recording into `log`. */
function cli(root: string, args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', bin, 'restore', '--root', root, ...args], {
    encoding: 'utf8',
    env: { ...process.env, SSR_RECOVERY_LOG_LEVEL: undefined },
  });
}

/** Fingerprint of the identity that signed the backups: the rebuilt targets trust it through their config. */
let signer = '';

function configure(root: string, flag: string, startCmd = `touch ${flag}`): void {
  mkdirSync(join(root, 'etc/ssr-recovery'), { recursive: true });
  writeFileSync(
    join(root, 'etc/ssr-recovery/conductor-agent.yaml'),
    [
      'backup:',
      '  trustedSigners:',
      `    - '${signer}'`,
      'restore:',
      '  postVerifyTimeoutMs: 0',
      'services:',
      "  '128T':",
      `    start: '${startCmd}'`,
      `    stop: 'rm -f ${flag}'`,
      `    isActive: 'test -e ${flag}'`,
      '',
    ].join('\n'),
  );
}

describe('conductor-agent restore (the real CLI): exit codes and --json', function () {
  this.timeout(60_000);
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let src: string;
  let archive: string;

  before(async () => {
    tmp = await makeTmpDir('restore-cli-');
    src = join(tmp.dir, 'src');
    await makeConductorTree(src, { minions: 2 });
    archive = (await createBackup({ config: testConfig(), root: src, hostname: 'cond1', dir: '/backups' })).archive;
    [signer = ''] = await signerOf(src, testConfig());
  });
  after(() => tmp.cleanup());

  it('restores, prints one JSON report and exits 0; 128T stopped and started through the configured commands', () => {
    const root = join(tmp.dir, 'ok');
    rebuiltTarget(src, root);
    const flag = join(tmp.dir, 'ok-active');
    writeFileSync(flag, '');
    configure(root, flag);
    const r = cli(root, [archive, '--json']);
    assert.equal(r.status, ExitCode.OK, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.ok, true);
    assert.equal(doc.verdict, 'go');
    assert.ok(doc.applied.length > 5);
    assert.ok(existsSync(flag));
    assert.ok(existsSync(join(root, 'etc/128technology/salt/pki/master/master.pem')));
  });

  it('--dry-run prints the plan, changes nothing, exits 0', () => {
    const root = join(tmp.dir, 'dry');
    rebuiltTarget(src, root);
    const flag = join(tmp.dir, 'dry-active');
    configure(root, flag);
    const before = snapshot(root);
    const r = cli(root, [archive, '--dry-run']);
    assert.equal(r.status, ExitCode.OK, r.stderr);
    assert.deepEqual(snapshotDiff(before, snapshot(root)), []);
    assert.ok(r.stdout.split('\n').filter((l) => l.trim().startsWith('add')).length > 5);
  });

  it('128T not active after the start: post-verify fails, rolled back, exit 1 with RESTORE_FAILED', () => {
    const root = join(tmp.dir, 'fail');
    rebuiltTarget(src, root);
    const flag = join(tmp.dir, 'fail-active');
    writeFileSync(flag, '');
    configure(root, flag, 'true'); // start does not bring it up
    const before = snapshot(root);
    const r = cli(root, [archive, '--json']);
    assert.equal(r.status, ExitCode.FAILED);
    assert.equal(JSON.parse(r.stdout).error.code, 'RESTORE_FAILED');
    assert.deepEqual(snapshotDiff(before, snapshot(root)), []);
  });

  it('an archive of another node is refused by preflight: exit 4', () => {
    const root = join(tmp.dir, 'other');
    rebuiltTarget(src, root);
    writeFileSync(join(root, 'etc/128technology/local.init'), '{"init":{"id":"someone-else"}}');
    configure(root, join(tmp.dir, 'other-active'));
    const r = cli(root, [archive, '--json']);
    assert.equal(r.status, ExitCode.PREFLIGHT_REFUSED);
    assert.equal(JSON.parse(r.stdout).error.code, 'RESTORE_PREFLIGHT');
  });

  it('usage errors exit 2; --rollback with no journal exits 4', () => {
    const root = join(tmp.dir, 'usage');
    rebuiltTarget(src, root);
    configure(root, join(tmp.dir, 'usage-active'));
    assert.equal(cli(root, []).status, ExitCode.USAGE);
    assert.equal(cli(root, ['--resume', '--rollback']).status, ExitCode.USAGE);
    assert.equal(cli(root, ['--rollback']).status, ExitCode.PREFLIGHT_REFUSED);
  });
});
