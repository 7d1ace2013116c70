import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repo, 'conductor-agent/bin.ts');
const cli = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', bin, ...args], {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, SSR_RECOVERY_LOG_LEVEL: undefined },
  });

describe('conductor-agent backup: the real CLI, --json and exit codes', function () {
  this.timeout(90_000);
  let root: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir: root, cleanup } = await makeTmpDir('ssr-cli-'));
    await makeConductorTree(root, { minions: 2, shareMinionKey: true });
  });
  after(async () => cleanup());

  it('create → list → verify → prune, each one JSON document, exit 0', () => {
    const c1 = cli(['backup', 'create', '--json', '--root', root]);
    assert.equal(c1.status, 0, c1.stderr);
    const made = JSON.parse(c1.stdout);
    assert.equal(made.ok, true);
    assert.match(made.fileName, /^conductor-backup-.+-conductor-a-\d{4}-\d{2}-\d{2}T\d{6}Z\.tar\.gz$/);

    const l = cli(['backup', 'list', '--json', '--root', root]);
    assert.equal(l.status, 0, l.stderr);
    const listed = JSON.parse(l.stdout).backups;
    assert.equal(listed.length, 1);
    assert.equal(listed[0].node, 'conductor-a');
    assert.equal(listed[0].sidecar, 'ok');
    assert.equal(typeof listed[0].ageSeconds, 'number');

    const v = cli(['backup', 'verify', '--json', '--root', root, made.archive]);
    assert.equal(v.status, 0, v.stderr);
    assert.equal(JSON.parse(v.stdout).status, 'verified');

    const p = cli(['backup', 'prune', '--json', '--root', root, '--keep-last', '1', '--dry-run']);
    assert.equal(p.status, 0, p.stderr);
    assert.deepEqual(JSON.parse(p.stdout).deleted, []);
  });

  it('verify exits 7 and lists the difference when the sidecar does not match', () => {
    const c = JSON.parse(cli(['backup', 'create', '--json', '--root', root]).stdout);
    writeFileSync(`${c.archive}.sha256`, `${'0'.repeat(64)}  x\n`);
    const v = cli(['backup', 'verify', '--json', '--root', root, c.archive]);
    assert.equal(v.status, 7);
    assert.deepEqual(
      JSON.parse(v.stdout).differences.map((d: { kind: string }) => d.kind),
      ['sidecar-mismatch'],
    );
  });

  it('prune refuses a policy that keeps nothing (exit 2, USAGE)', () => {
    const p = cli([
      'backup',
      'prune',
      '--json',
      '--root',
      root,
      '--keep-last',
      '0',
      '--keep-daily',
      '0',
      '--keep-weekly',
      '0',
    ]);
    assert.equal(p.status, 2);
    assert.equal(JSON.parse(p.stdout).error.code, 'USAGE');
  });

  it('create exits 4 with BACKUP_MISSING_FILES when a required file is missing', () => {
    unlinkSync(join(root, 'etc/128technology/local.init'));
    const c = cli(['backup', 'create', '--json', '--root', root]);
    assert.equal(c.status, 4);
    const doc = JSON.parse(c.stdout);
    assert.equal(doc.error.code, 'BACKUP_MISSING_FILES');
    assert.deepEqual(
      doc.error.details.missing.map((m: { path: string }) => m.path),
      ['/etc/128technology/local.init'],
    );
  });
});
