import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp, writeFileSync, unlinkSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { restoreConductor, resumeRestore, rollbackRestore } from '../../conductor-agent/restore/index.js';
import { numericOwnerIds } from '../../conductor-agent/restore/owner-ids.js';
import { hasCode } from '../../shared/errors.js';
import { commandServiceControl } from '../../shared/ports/service-control.js';
import { backupAndDriftedTemplate, snapshot, snapshotDiff, testConfig } from './restore-support.js';

const child = fileURLToPath(new URL('./restore-kill-child.ts', import.meta.url));
const PKI = 'etc/128technology/salt/pki/master';

/** Run the child until it reports READY at `killAt`, then SIGKILL it. */
function runAndKill(env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('READY')) p.kill('SIGKILL');
    });
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.on('exit', (code, signal) =>
      signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited ${code} before ${env.KILL_AT}: ${out} ${err}`)),
    );
  });
}

describe('restore killed with SIGKILL at every step: --rollback undoes, --resume finishes', function () {
  this.timeout(120_000);
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let template: string;
  let archive: string;
  let expected: Map<string, string>;
  let n = 0;
  const config = testConfig();

  before(async () => {
    ({ tmp, archive, template } = await backupAndDriftedTemplate('restore-kill-', config));
    writeFileSync(join(template, 'var/lib/128technology/user-running.json'), '{"datastore":{}}\n');
    unlinkSync(join(template, 'srv/salt/s4/f4.sls'));
    writeFileSync(join(template, PKI, 'minions/late-router'), 'accepted after the backup\n');
    // What an uninterrupted restore makes of the template.
    const clean = join(tmp.dir, 'clean');
    await fsp.cp(template, clean, { recursive: true, preserveTimestamps: true });
    await restoreConductor({
      archive,
      root: clean,
      config,
      ports: { services: [], owners: numericOwnerIds, flush: async () => undefined },
    });
    expected = snapshot(clean);
  });
  after(() => tmp.cleanup());

  async function killedAt(killAt: string) {
    const root = join(tmp.dir, `k${n++}`);
    await fsp.cp(template, root, { recursive: true, preserveTimestamps: true });
    const flag = join(tmp.dir, `k${n}-128T-active`);
    writeFileSync(flag, '');
    const before = snapshot(root);
    await runAndKill({ ROOT: root, ARCHIVE: archive, KILL_AT: killAt, SVC_FLAG: flag });
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

  for (const at of [
    'staging',
    'staged',
    'stopping',
    'stopped',
    'saving',
    'applying',
    'apply:2',
    'applied',
    'starting',
    'started',
    'post-verify',
  ]) {
    it(`killed at ${at}: restore notices the journal, --rollback restores the exact previous state`, async () => {
      const k = await killedAt(at);
      const again = await restoreConductor({ archive, root: k.root, config, ports: k.ports }).catch((e: unknown) => e);
      assert.ok(hasCode(again, 'RESTORE_JOURNAL_PRESENT'));
      const report = await rollbackRestore({ root: k.root, config, ports: k.ports });
      assert.equal(report.ok, true);
      assert.deepEqual(snapshotDiff(k.before, snapshot(k.root)), []);
      assert.ok(existsSync(k.flag), '128T is running again');
    });
  }

  for (const at of ['staging', 'stopped', 'apply:2', 'started']) {
    it(`killed at ${at}: --resume finishes the restore`, async () => {
      const k = await killedAt(at);
      const report = await resumeRestore({ root: k.root, config, ports: k.ports });
      assert.equal(report.ok, true);
      assert.deepEqual(snapshotDiff(expected, snapshot(k.root)), []);
      assert.ok(existsSync(k.flag), '128T is running');
    });
  }
});
