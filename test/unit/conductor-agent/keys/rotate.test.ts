import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { enableSigning } from '../../../../conductor-agent/keys/enable-signing.js';
import { rotateMasterKey, type RotateOptions } from '../../../../conductor-agent/keys/rotate.js';
import { rollbackRotation } from '../../../../conductor-agent/keys/rollback.js';
import { verifyMasterPubSignature } from '../../../../conductor-agent/keys/signature.js';
import { ServiceError, hasCode } from '../../../../shared/errors.js';
import { pemFinger } from '../../../../shared/salt/fingerprint.js';
import { fakeProbe, fakeService, keySandbox, steppingClock, treeSnapshot, type KeySandbox } from './sandbox.js';

describe('conductor-agent/keys/rotate: rotateMasterKey and rollbackRotation', () => {
  let s: KeySandbox;
  let signFinger: string;
  const read = (f: string) => readFile(join(s.pkiDir, f), 'utf8');
  const opts = (over: Partial<RotateOptions> = {}): RotateOptions => ({
    pkiDir: s.pkiDir,
    masterConfig: s.masterConfig,
    rotationsDir: s.rotationsDir,
    service: fakeService(),
    probe: fakeProbe(() => signFinger),
    clock: steppingClock(),
    waitMs: 60_000,
    pollMs: 5_000,
    ...over,
  });
  beforeEach(async () => {
    s = await keySandbox({ minions: 3 });
  });
  afterEach(() => s.cleanup());
  const signing = async () => {
    await enableSigning({ pkiDir: s.pkiDir, masterConfig: s.masterConfig, exportDir: s.exportDir });
    signFinger = pemFinger(await read('master_sign.pub'));
  };

  it('refuses with KEYS_SIGNING_DISABLED when the master does not sign, changing nothing', async () => {
    signFinger = 'x';
    const before = await treeSnapshot(s.root);
    await assert.rejects(rotateMasterKey(opts()), (e) => hasCode(e, 'KEYS_SIGNING_DISABLED'));
    assert.deepEqual(await treeSnapshot(s.root), before);
  });

  it('refuses with KEYS_MINIONS_NOT_READY when a minion does not verify or holds another signing key; --force overrides', async () => {
    await signing();
    const [a, b] = s.minionIds;
    const probe = fakeProbe(() => signFinger, { [a!]: { verifies: false }, [b!]: { signKeyFingerprint: 'aa:bb' } });
    const before = await treeSnapshot(s.root);
    await assert.rejects(
      rotateMasterKey(opts({ probe })),
      (e) => hasCode(e, 'KEYS_MINIONS_NOT_READY') && (e.details.notReady as unknown[]).length === 2,
    );
    assert.deepEqual(await treeSnapshot(s.root), before);
    const r = await rotateMasterKey(opts({ probe, force: true }));
    assert.equal(r.forced, true);
    assert.notEqual(r.newFingerprint, r.oldFingerprint);
  });

  it('dry run lists the changes and writes nothing', async () => {
    await signing();
    const before = await treeSnapshot(s.root);
    const service = fakeService();
    const r = await rotateMasterKey(opts({ dryRun: true, service }));
    assert.deepEqual(
      r.changes.map((c) => c.action),
      ['backup', 'replace-key-pair', 'write-signature', 'restart-service'],
    );
    assert.equal(service.restart.callCount, 0);
    assert.deepEqual(await treeSnapshot(s.root), before);
  });

  it('replaces the pair, signs it, keeps the old pair 0600 in a 0700 folder, restarts, and reports silent minions', async () => {
    await signing();
    const oldPem = await read('master.pem');
    const oldFinger = pemFinger(await read('master.pub'));
    const service = fakeService();
    const silent = s.minionIds[2]!;
    const r = await rotateMasterKey(opts({ service, probe: fakeProbe(() => signFinger, {}, [silent]) }));
    assert.equal(service.restart.callCount, 1);
    assert.equal(r.oldFingerprint, oldFinger);
    assert.equal(r.newFingerprint, pemFinger(await read('master.pub')));
    assert.ok(
      verifyMasterPubSignature(
        await read('master_sign.pub'),
        await read('master.pub'),
        await read('master_pubkey_signature'),
      ),
    );
    assert.equal((await stat(join(s.pkiDir, 'master.pem'))).mode & 0o777, 0o600);
    assert.deepEqual(r.answered, s.minionIds.slice(0, 2));
    assert.deepEqual(r.missing, [silent]);
    const kept = join(s.rotationsDir, r.rotationId!);
    assert.equal((await stat(kept)).mode & 0o777, 0o700);
    assert.equal((await stat(join(kept, 'master.pem'))).mode & 0o777, 0o600);
    assert.equal(await readFile(join(kept, 'master.pem'), 'utf8'), oldPem);

    const back = await rollbackRotation({
      pkiDir: s.pkiDir,
      masterConfig: s.masterConfig,
      rotationsDir: s.rotationsDir,
      service,
      probe: fakeProbe(() => signFinger),
      clock: steppingClock(),
      waitMs: 10_000,
    });
    assert.equal(back.rotationId, r.rotationId);
    assert.equal(await read('master.pem'), oldPem);
    assert.equal(pemFinger(await read('master.pub')), oldFinger);
    assert.ok(
      verifyMasterPubSignature(
        await read('master_sign.pub'),
        await read('master.pub'),
        await read('master_pubkey_signature'),
      ),
    );
    assert.equal(service.restart.callCount, 2);
    assert.deepEqual(back.missing, []);
  });

  it('puts the old pair back with KEYS_ROTATE_FAILED when the master restart fails', async () => {
    await signing();
    const oldPem = await read('master.pem');
    const service = fakeService();
    service.restart.onFirstCall().rejects(new ServiceError('SERVICE_FAILED', 'boom'));
    await assert.rejects(rotateMasterKey(opts({ service })), (e) => hasCode(e, 'KEYS_ROTATE_FAILED'));
    assert.equal(await read('master.pem'), oldPem);
    assert.equal(service.restart.callCount, 2, 'restarted again on the old key');
  });

  it('rollback with nothing kept fails with KEYS_ROTATION_NOT_FOUND', async () => {
    await assert.rejects(
      rollbackRotation({
        pkiDir: s.pkiDir,
        masterConfig: s.masterConfig,
        rotationsDir: s.rotationsDir,
        service: fakeService(),
        probe: fakeProbe(() => ''),
        clock: steppingClock(),
        waitMs: 1,
      }),
      (e) => hasCode(e, 'KEYS_ROTATION_NOT_FOUND'),
    );
  });
});
