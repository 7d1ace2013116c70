import assert from 'node:assert/strict';
import { promises as fsp, writeFileSync, unlinkSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import sinon from 'sinon';
import { restoreConductor, rollbackRestore } from '../../conductor-agent/restore/index.js';
import { systemApplyFs, type ApplyFs } from '../../conductor-agent/restore/apply-fs.js';
import { numericOwnerIds } from '../../conductor-agent/restore/owner-ids.js';
import { hasCode } from '../../shared/errors.js';
import {
  backupAndDriftedTemplate,
  fakeService,
  snapshot,
  snapshotDiff,
  testConfig,
  JOURNAL_DIR,
  type FakeService,
} from './restore-support.js';

const PKI = 'etc/128technology/salt/pki/master';
const enospc = (): NodeJS.ErrnoException =>
  Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });

describe('restore fault injection: every failure after 128T stops rolls back to the exact previous state', function () {
  this.timeout(60_000);
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let template: string;
  let archive: string;
  let n = 0;
  const config = testConfig();

  before(async () => {
    ({ tmp, archive, template } = await backupAndDriftedTemplate('restore-faults-', config));
    unlinkSync(join(template, 'srv/salt/s4/f4.sls'));
    writeFileSync(join(template, 'var/lib/128technology/user-running.json'), '{"datastore":{}}\n');
    writeFileSync(join(template, PKI, 'minions/router-2'), 'a different key\n');
    writeFileSync(join(template, PKI, 'minions/late-router'), 'accepted after the backup\n');
  });
  after(() => tmp.cleanup());

  async function target(): Promise<{ root: string; before: Map<string, string>; svc: FakeService; fs: ApplyFs }> {
    const root = join(tmp.dir, `t${n++}`);
    await fsp.cp(template, root, { recursive: true, preserveTimestamps: true });
    return { root, before: snapshot(root), svc: fakeService(), fs: { ...systemApplyFs } };
  }
  const run = (t: { root: string; svc: FakeService; fs: ApplyFs }, extra: Record<string, unknown> = {}) =>
    restoreConductor({
      archive,
      root: t.root,
      config,
      ports: { services: [t.svc], fs: t.fs, owners: numericOwnerIds, flush: async () => undefined, ...extra },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
  const assertBack = (t: { root: string; before: Map<string, string>; svc: FakeService }): void => {
    assert.deepEqual(snapshotDiff(t.before, snapshot(t.root)), []);
    assert.equal(t.svc.active, true, '128T runs again');
    assert.ok(!existsSync(join(t.root, JOURNAL_DIR, 'journal.json')), 'no journal left after a complete rollback');
  };

  it('128T fails to start → rolled back, 128T started again on the old files', async () => {
    const t = await target();
    const start = sinon.stub(t.svc, 'start').callThrough();
    start.onFirstCall().rejects(new Error('start 128T failed (injected)'));
    const err = await run(t);
    assert.ok(hasCode(err, 'RESTORE_FAILED'));
    assert.equal(start.callCount, 2);
    assertBack(t);
  });

  it('salt-api never answers after the start (post-verify fails) → rolled back', async () => {
    const t = await target();
    const err = await run(t, {
      saltApiPing: async () => {
        throw new Error('connection refused');
      },
    });
    assert.ok(hasCode(err, 'RESTORE_FAILED'));
    assertBack(t);
  });

  it('128T is not active after the start (post-verify fails) → rolled back', async () => {
    const t = await target();
    sinon.stub(t.svc, 'start').callsFake(async () => {
      t.svc.calls.push('start');
    });
    sinon.stub(t.svc, 'isActive').callsFake(async () => t.svc.calls.filter((c) => c === 'start').length !== 1);
    const err = await run(t);
    assert.ok(hasCode(err, 'RESTORE_FAILED'));
    assert.deepEqual(snapshotDiff(t.before, snapshot(t.root)), []);
  });

  it('disk full while applying (ENOSPC on the 4th rename) → rolled back', async () => {
    const t = await target();
    const rename = sinon.stub(t.fs, 'rename').callThrough();
    rename.onCall(3).rejects(enospc());
    const err = await run(t);
    assert.ok(hasCode(err, 'RESTORE_FAILED'));
    assert.ok(rename.callCount > 4, 'the fault hit mid-apply and rollback renamed files back');
    assertBack(t);
  });

  it('disk full while keeping the old files (ENOSPC on link) → rolled back', async () => {
    const t = await target();
    const link = sinon.stub(t.fs, 'link').callThrough();
    link.onCall(2).rejects(enospc());
    const err = await run(t);
    assert.ok(hasCode(err, 'RESTORE_FAILED'));
    assert.equal(link.callCount, 3);
    assertBack(t);
  });

  it('128T refuses to stop → nothing applied, 128T still running', async () => {
    const t = await target();
    t.svc.failOn.add('stop');
    const err = await run(t);
    assert.ok(hasCode(err, 'RESTORE_FAILED'));
    assertBack(t);
  });

  it('a failing rollback keeps the journal; `restore --rollback` finishes it', async () => {
    const t = await target();
    sinon.stub(t.svc, 'start').callThrough().onFirstCall().rejects(new Error('injected'));
    const moveBack = sinon.stub(t.fs, 'rename').callThrough();
    // Renames after the first start attempt are the rollback's: make them fail.
    moveBack.callsFake(async (a: string, b: string) => {
      if ((t.svc.start as sinon.SinonStub).callCount > 0)
        throw Object.assign(new Error('EIO (injected)'), { code: 'EIO' });
      return systemApplyFs.rename(a, b);
    });
    const err = await run(t);
    assert.ok(hasCode(err, 'RESTORE_ROLLBACK_FAILED'));
    assert.ok(existsSync(join(t.root, JOURNAL_DIR, 'journal.json')));
    const again = await restoreConductor({
      archive,
      root: t.root,
      config,
      ports: { services: [t.svc], owners: numericOwnerIds },
    }).catch((e: unknown) => e);
    assert.ok(hasCode(again, 'RESTORE_JOURNAL_PRESENT'));
    const report = await rollbackRestore({
      root: t.root,
      config,
      ports: { services: [t.svc], owners: numericOwnerIds },
    });
    assert.equal(report.ok, true);
    assertBack(t);
  });
});
