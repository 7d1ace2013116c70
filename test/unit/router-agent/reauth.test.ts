import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { nullLogger } from '../../../shared/log/logger.js';
import { systemClock } from '../../../shared/ports/clock.js';
import { systemRandom } from '../../../shared/ports/random.js';
import { pemFinger } from '../../../shared/salt/fingerprint.js';
import { minionConfigPaths, effectiveValue, PIN_DROP_IN } from '../../../router-agent/minion/config-files.js';
import { cachedFingerprint } from '../../../router-agent/minion/pki.js';
import { JournalStore } from '../../../router-agent/reauth/journal.js';
import { reauthenticate, resumeInterrupted } from '../../../router-agent/reauth/run.js';
import { rollback } from '../../../router-agent/reauth/rollback.js';
import type { ReauthDeps } from '../../../router-agent/reauth/deps.js';
import { makeTmpDir } from '../../helpers/tmpdir.js';
import { FakeMinion, makeRouterTree, rsaPublicPem } from './fake-minion.js';

describe('router-agent/reauth (file level, fake minion)', () => {
  const oldMaster = rsaPublicPem();
  const newMaster = rsaPublicPem();
  const rogueMaster = rsaPublicPem();
  let dir: string;
  let cleanup: () => Promise<void>;
  let tree: Awaited<ReturnType<typeof makeRouterTree>>;
  let minion: FakeMinion;
  let deps: ReauthDeps;

  beforeEach(async () => {
    ({ dir, cleanup } = await makeTmpDir());
    tree = await makeRouterTree(dir, oldMaster);
    minion = new FakeMinion(tree, newMaster);
    minion.active = true;
    await minion.attempt(); // the stale-key lines, as after the conductor lost its key
    deps = {
      config: minionConfigPaths(tree.configDir),
      pkiDir: tree.pkiDir,
      logFile: tree.logFile,
      service: minion,
      clock: systemClock,
      random: systemRandom,
      journal: new JournalStore(tree.stateDir),
      logger: nullLogger,
      timeoutMs: 2_000,
      settleMs: 40,
      pollMs: 10,
      probe: () => minion.probe(),
    };
  });
  afterEach(() => cleanup());

  it('pins the new fingerprint, moves the stale key aside and confirms from the cached key', async () => {
    const fp = pemFinger(newMaster);
    const out = await reauthenticate(deps, { fingerprint: fp, origin: 'local' });
    assert.equal(out.ok, true, out.message);
    assert.equal(out.cachedFingerprint, fp);
    assert.equal(await cachedFingerprint(tree.pkiDir), fp);
    assert.equal((await effectiveValue(deps.config, 'master_finger'))?.value, fp);
    assert.deepEqual(minion.calls, ['stop', 'start', 'probe']);
    for (const k of ['stopped', 'pinned', 'keyMoved', 'started', 'keyCached', 'confirmed'])
      assert.equal(typeof out.timings[k], 'number', k);
    const last = await deps.journal.readLast();
    assert.equal(
      await fsp.readFile(join(last!.runDir, 'minion_master.pub.prev'), 'utf8'),
      oldMaster.trim(),
      'stale key kept for rollback',
    );
    assert.equal(await deps.journal.read(), undefined, 'journal closed');
  });

  it('refuses a rogue master through the pin and removes the key the minion cached before exiting 42', async () => {
    minion.masterPub = rogueMaster;
    const fp = pemFinger(newMaster);
    const out = await reauthenticate(deps, { fingerprint: fp, origin: 'local' });
    assert.equal(out.ok, false);
    assert.equal(out.code, 'REAUTH_FAILED');
    assert.ok(out.evidence.some((l) => l.includes('The specified fingerprint in the master configuration file:')));
    assert.equal(await cachedFingerprint(tree.pkiDir), undefined, 'refused key removed');
    assert.equal((await effectiveValue(deps.config, 'master_finger'))?.value, fp, 'pin left in place');
    assert.equal(minion.active, false);
  });

  it('times out while the master is unreachable, leaving the minion running pinned with no key', async () => {
    minion.masterPub = undefined;
    const out = await reauthenticate(deps, { fingerprint: pemFinger(newMaster), origin: 'local' });
    assert.equal(out.code, 'REAUTH_FAILED');
    assert.match(out.message ?? '', /timeout/);
    assert.equal(minion.active, true);
    assert.equal(await cachedFingerprint(tree.pkiDir), undefined);
  });

  it('rollback restores the previous files byte for byte (and the absence of our drop-in)', async () => {
    const keyBefore = await fsp.readFile(join(tree.pkiDir, 'minion_master.pub'));
    await reauthenticate(deps, { fingerprint: pemFinger(newMaster), origin: 'local' });
    const out = await rollback(deps);
    assert.equal(out.ok, true, out.message);
    assert.deepEqual(await fsp.readFile(join(tree.pkiDir, 'minion_master.pub')), keyBefore);
    await assert.rejects(fsp.stat(join(tree.configDir, 'minion.d', PIN_DROP_IN)));
    const again = await rollback(deps);
    assert.equal(again.code, 'REAUTH_NOTHING_TO_ROLL_BACK');
  });

  it('rollback restores a drop-in that existed before (the old one is kept)', async () => {
    const pinPath = join(tree.configDir, 'minion.d', PIN_DROP_IN);
    const oldPin = `master_finger: '${pemFinger(oldMaster)}'\n`;
    await fsp.writeFile(pinPath, oldPin);
    minion.masterPub = oldMaster;
    await reauthenticate(deps, { fingerprint: pemFinger(newMaster), origin: 'local' });
    await rollback(deps);
    assert.equal(await fsp.readFile(pinPath, 'utf8'), oldPin);
  });

  it('refuses before touching anything: a bad fingerprint, or a later drop-in that would override the pin', async () => {
    const snapshot = async () => [
      await fsp.readFile(join(tree.pkiDir, 'minion_master.pub'), 'utf8'),
      await fsp.readdir(join(tree.configDir, 'minion.d')),
    ];
    const before = await snapshot();
    const bad = await reauthenticate(deps, { fingerprint: 'ab:cd', origin: 'local' });
    assert.equal(bad.code, 'REAUTH_REFUSED');
    await fsp.writeFile(
      join(tree.configDir, 'minion.d', 'zz-site.conf'),
      `master_finger: '${pemFinger(rogueMaster)}'\n`,
    );
    const over = await reauthenticate(deps, { fingerprint: pemFinger(newMaster), origin: 'local' });
    assert.equal(over.code, 'REAUTH_REFUSED');
    await fsp.rm(join(tree.configDir, 'minion.d', 'zz-site.conf'));
    assert.deepEqual(await snapshot(), before);
    assert.deepEqual(minion.calls, []);
  });

  it('a crash after the pin is written is finished by resumeInterrupted on restart', async () => {
    const fp = pemFinger(newMaster);
    const crashing = {
      ...deps,
      afterStep: (s: string) => {
        if (s === 'pinned') throw new Error('simulated crash');
      },
    };
    await assert.rejects(
      reauthenticate(crashing, { fingerprint: fp, origin: 'conductor', commandId: 'c-1' }),
      /simulated crash/,
    );
    assert.equal((await deps.journal.read())?.step, 'pinned');
    assert.equal(minion.active, false, 'the crash left the minion stopped');
    const blocked = await reauthenticate(deps, { fingerprint: fp, origin: 'local' });
    assert.equal(blocked.code, 'LOCK_HELD', 'a new run waits until the interrupted one is finished');
    const resumed = await resumeInterrupted(deps);
    assert.equal(resumed?.journal.commandId, 'c-1');
    assert.equal(resumed?.outcome.ok, true, resumed?.outcome.message);
    assert.equal(resumed?.outcome.recovered, true);
    assert.equal(await cachedFingerprint(tree.pkiDir), fp);
    assert.equal(await deps.journal.read(), undefined);
  });

  it('--trust-first-master trusts whatever answers (explicit only) and still keeps the stale key for rollback', async () => {
    minion.masterPub = rogueMaster;
    const out = await reauthenticate(deps, { trustFirstMaster: true, origin: 'local' });
    assert.equal(out.ok, true, out.message);
    assert.equal(await cachedFingerprint(tree.pkiDir), pemFinger(rogueMaster));
    assert.ok(await deps.journal.readLast());
  });
});
