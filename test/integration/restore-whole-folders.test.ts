import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { createBackup } from '../../conductor-agent/backup/run.js';
import { restoreConductor, resumeRestore, rollbackRestore } from '../../conductor-agent/restore/index.js';
import { numericOwnerIds } from '../../conductor-agent/restore/owner-ids.js';
import { commandServiceControl } from '../../shared/ports/service-control.js';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { rebuiltTarget, signerOf, snapshot, snapshotDiff, testConfig } from './restore-support.js';

const child = fileURLToPath(new URL('./restore-kill-child.ts', import.meta.url));

function runAndKill(env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('READY')) p.kill('SIGKILL');
    });
    p.on('exit', (code, signal) =>
      signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited ${code} before ${env.KILL_AT}: ${out}`)),
    );
  });
}

// Onto a rebuilt conductor the pki master/ folder, /srv/salt and /var/lib/128technology are missing:
// apply moves each staged folder into place whole (one rename) instead of file by file.
describe('restore onto a rebuilt conductor moves missing folders whole; a kill after the first move is undone or finished exactly', function () {
  this.timeout(60_000);
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let src: string;
  let archive: string;
  let trustedSigners: ReadonlySet<string>;
  let n = 0;
  const config = testConfig();

  before(async () => {
    tmp = await makeTmpDir('restore-whole-');
    src = join(tmp.dir, 'src');
    await makeConductorTree(src, { routers: 5, minions: 20, states: 6 });
    archive = (await createBackup({ config, root: src, hostname: 'cond1', dir: '/backups' })).archive;
    trustedSigners = await signerOf(src, config); // the rebuilt target has no identity: name the old signer
  });
  after(() => tmp.cleanup());

  async function killedAfterFirstMove() {
    const root = join(tmp.dir, `r${n++}`);
    rebuiltTarget(src, root);
    const flag = join(tmp.dir, `r${n}-128T-active`);
    writeFileSync(flag, '');
    const before = snapshot(root);
    await runAndKill({
      ROOT: root,
      ARCHIVE: archive,
      KILL_AT: 'apply:0',
      SVC_FLAG: flag,
      TRUSTED: [...trustedSigners].join(','),
    });
    const service = commandServiceControl({
      name: '128T',
      unit: '128T',
      commands: { start: `touch ${flag}`, stop: `rm -f ${flag}`, isActive: `test -e ${flag}` },
    });
    return {
      root,
      before,
      flag,
      ports: { services: [service], owners: numericOwnerIds, flush: async () => undefined },
    };
  }

  it('an uninterrupted restore reports every file applied and equals the backed-up tree', async () => {
    const root = join(tmp.dir, 'clean');
    rebuiltTarget(src, root);
    const report = await restoreConductor({
      archive,
      root,
      config,
      trustedSigners,
      ports: { services: [], owners: numericOwnerIds, flush: async () => undefined },
    });
    assert.equal(report.ok, true);
    assert.ok(
      report.applied.some((p) => p.includes('/minions/')),
      'files inside a folder moved whole are reported applied',
    );
    assert.deepEqual(snapshotDiff(snapshot(src, ['/backups', '/var/log']), snapshot(root)), []);
  });

  it('killed after the first folder move: --rollback restores the rebuilt tree exactly', async () => {
    const k = await killedAfterFirstMove();
    const report = await rollbackRestore({ root: k.root, config, ports: k.ports });
    assert.equal(report.ok, true);
    assert.deepEqual(snapshotDiff(k.before, snapshot(k.root)), []);
    assert.ok(existsSync(k.flag), '128T is running again');
  });

  it('killed after the first folder move: --resume finishes the restore', async () => {
    const k = await killedAfterFirstMove();
    const report = await resumeRestore({ root: k.root, config, ports: k.ports });
    assert.equal(report.ok, true);
    assert.deepEqual(snapshotDiff(snapshot(src, ['/backups', '/var/log']), snapshot(k.root)), []);
  });
});
