// Issue 9 F1, F5, F6, F7: a re-authentication reports success only with positive evidence, waits
// for the minion to be really down before touching its files, and never leaves it down after a
// failure. File-level, with the fake minion (its daemon is a real child process whose pid the
// agent finds through Salt's pid file).
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { RecoveryError } from '../../../shared/errors.js';
import { nullLogger } from '../../../shared/log/logger.js';
import { systemClock } from '../../../shared/ports/clock.js';
import { systemRandom } from '../../../shared/ports/random.js';
import type { ServiceControl } from '../../../shared/ports/service-control.js';
import { pemFinger } from '../../../shared/salt/fingerprint.js';
import { minionConfigPaths, effectiveValue, PIN_DROP_IN } from '../../../router-agent/minion/config-files.js';
import { cachedFingerprint } from '../../../router-agent/minion/pki.js';
import { JournalStore } from '../../../router-agent/reauth/journal.js';
import { reauthenticate } from '../../../router-agent/reauth/run.js';
import type { ReauthDeps } from '../../../router-agent/reauth/deps.js';
import { makeTmpDir } from '../../helpers/tmpdir.js';
import { FakeMinion, makeRouterTree, rsaPublicPem } from './fake-minion.js';

const diskFull = (): RecoveryError => new RecoveryError('FS_WRITE_FAILED', 'disk full (injected)');

/** `stop` returns at once (as a `kill` command line does); the minion exits `delayMs` later, or never. */
class SlowStop implements ServiceControl {
  readonly name = 'salt-minion';
  exitedAt: number | undefined;
  constructor(
    readonly inner: FakeMinion,
    readonly delayMs: number | 'never',
  ) {}
  async stop(): Promise<void> {
    this.inner.calls.push('stop-requested');
    if (this.delayMs === 'never') return;
    setTimeout(() => {
      void this.inner.stop().then(() => {
        this.exitedAt = Date.now();
      });
    }, this.delayMs);
  }
  start(): Promise<void> {
    return this.inner.start();
  }
  restart(): Promise<void> {
    return this.inner.restart();
  }
  isActive(): Promise<boolean> {
    return this.inner.isActive();
  }
}

/** The first `stop` is followed by somebody else starting the minion again (the SSR after `migrate conductor`). */
class RestartedBehind extends SlowStop {
  stops = 0;
  constructor(inner: FakeMinion) {
    super(inner, 0);
  }
  override async stop(): Promise<void> {
    this.stops++;
    await this.inner.stop();
    if (this.stops === 1) await this.inner.start();
  }
}

describe('router-agent/reauth tells the truth (issue 9 F1, F5, F6, F7)', function () {
  this.timeout(20_000);
  const oldMaster = rsaPublicPem();
  const newMaster = rsaPublicPem();
  const rogueMaster = rsaPublicPem();
  let cleanup: () => Promise<void>;
  let tree: Awaited<ReturnType<typeof makeRouterTree>>;
  let minion: FakeMinion;
  let deps: ReauthDeps;
  const pinPath = () => join(tree.configDir, 'minion.d', PIN_DROP_IN);

  beforeEach(async () => {
    let dir: string;
    ({ dir, cleanup } = await makeTmpDir());
    tree = await makeRouterTree(dir, oldMaster);
    minion = new FakeMinion(tree, newMaster);
    await minion.start(); // running, stale: it logs "the master key has changed"
    minion.calls.length = 0;
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
  afterEach(async () => {
    await minion.stop();
    await cleanup();
  });

  it('rogue master, pinned key already cached: failure with "did not authenticate", not success (F1, F6)', async () => {
    // The right key is cached and pinned (an earlier re-authentication); an impostor answers now.
    await fsp.writeFile(join(tree.pkiDir, 'minion_master.pub'), newMaster.trim());
    minion.masterPub = rogueMaster;
    const out = await reauthenticate(deps, { fingerprint: pemFinger(newMaster), origin: 'local' });
    assert.equal(out.ok, false, 'cached key = pin and minion up is not proof');
    assert.equal(out.code, 'REAUTH_FAILED');
    assert.match(out.message ?? '', /master-key-changed/);
    assert.ok(
      out.evidence.some((l) => l.includes('The master key has changed')),
      out.evidence.join('\n'),
    );
    assert.ok(out.evidence.some((l) => l.includes('did not authenticate')));
    assert.equal(await cachedFingerprint(tree.pkiDir), pemFinger(newMaster), 'the right key stays cached');
    assert.equal(minion.active, true, 'Salt keeps retrying (no exit 42): the pinned minion is left running');
  });

  it('no refusal logged but the master never answers test.ping: not-confirmed, not success (F1)', async () => {
    await fsp.writeFile(join(tree.pkiDir, 'minion_master.pub'), newMaster.trim());
    minion.masterPub = undefined; // nothing answers: the minion logs nothing at the default level
    const out = await reauthenticate(deps, { fingerprint: pemFinger(newMaster), origin: 'local' });
    assert.equal(out.ok, false);
    assert.match(out.message ?? '', /not-confirmed/);
    assert.ok(
      out.evidence.some((l) => l.startsWith('probe: ')),
      out.evidence.join('\n'),
    );
    assert.ok(minion.calls.includes('probe'));
  });

  it('success carries the positive evidence (the probe output) (F1)', async () => {
    const out = await reauthenticate(deps, { fingerprint: pemFinger(newMaster), origin: 'local' });
    assert.equal(out.ok, true, out.message);
    assert.deepEqual(out.confirmedBy, ['local:', '    True']);
  });

  it('stop returns before the minion exits: files are touched only after its process is gone (F5)', async () => {
    const slow = new SlowStop(minion, 400);
    const exitedBefore: Record<string, boolean> = {};
    const afterStep = (s: string): void => {
      exitedBefore[s] = slow.exitedAt !== undefined;
    };
    const req = { fingerprint: pemFinger(newMaster), origin: 'local' as const };
    const out = await reauthenticate({ ...deps, service: slow, afterStep }, req);
    assert.equal(out.ok, true, out.message);
    const expected = { snapshotted: false, stopped: true, pinned: true, 'key-moved': true, started: true };
    assert.deepEqual(exitedBefore, expected, 'the steps after stop ran only once the old minion had exited');
    assert.ok(slow.exitedAt !== undefined);
  });

  it('a minion started again behind our stop is stopped again, and the re-auth goes on (regression: repin after migrate conductor timed out)', async () => {
    const svc = new RestartedBehind(minion);
    const req = { fingerprint: pemFinger(newMaster), origin: 'local' as const };
    const out = await reauthenticate({ ...deps, service: svc, stopTimeoutMs: 5_000 }, req);
    assert.equal(out.ok, true, out.message);
    assert.equal(svc.stops, 2, 'stopped once more after it came back');
    assert.equal(await cachedFingerprint(tree.pkiDir), pemFinger(newMaster));
  });

  it('minion that does not exit after stop: REAUTH_MINION_STILL_RUNNING, nothing changed, running (F5)', async () => {
    const keyBefore = await fsp.readFile(join(tree.pkiDir, 'minion_master.pub'), 'utf8');
    const stuck = { ...deps, service: new SlowStop(minion, 'never'), stopTimeoutMs: 300 };
    const out = await reauthenticate(stuck, { fingerprint: pemFinger(newMaster), origin: 'local' });
    assert.equal(out.ok, false);
    assert.equal(out.code, 'REAUTH_MINION_STILL_RUNNING');
    assert.match(out.message ?? '', /still running/);
    assert.equal(await fsp.readFile(join(tree.pkiDir, 'minion_master.pub'), 'utf8'), keyBefore);
    await assert.rejects(fsp.stat(pinPath()), 'no pin written');
    assert.equal(minion.active, true);
    assert.equal(await deps.journal.read(), undefined, 'the run is closed');
  });

  for (const failAt of ['stopped', 'pinned', 'key-moved'] as const) {
    it(`a step fails after the minion was stopped (at ${failAt}): files back, minion started again (F7)`, async () => {
      const keyBefore = await fsp.readFile(join(tree.pkiDir, 'minion_master.pub'), 'utf8');
      const failing = {
        ...deps,
        afterStep: (s: string) => {
          if (s === failAt) throw diskFull();
        },
      };
      const out = await reauthenticate(failing, { fingerprint: pemFinger(newMaster), origin: 'local' });
      assert.equal(out.ok, false);
      assert.equal(out.code, 'FS_WRITE_FAILED');
      assert.match(out.message ?? '', /started again/);
      assert.equal(minion.active, true, 'the minion is running again');
      assert.deepEqual(
        minion.calls.filter((c) => c !== 'probe'),
        ['stop', 'start'],
      );
      const key = await fsp.readFile(join(tree.pkiDir, 'minion_master.pub'), 'utf8');
      assert.equal(key, keyBefore, 'cached key put back');
      assert.equal(await effectiveValue(deps.config, 'master_finger'), undefined, 'pin drop-in removed (none before)');
      assert.equal(await deps.journal.read(), undefined, 'journal closed only once the minion runs again');
      assert.ok(await deps.journal.readLast(), 'rollback information kept');
    });
  }

  it('starting the minion again fails too: journal kept, so the next agent start finishes the run (F7)', async () => {
    const broken: ServiceControl = {
      name: 'salt-minion',
      stop: () => minion.stop(),
      isActive: () => minion.isActive(),
      restart: () => minion.restart(),
      start: async () => {
        throw new RecoveryError('SERVICE_FAILED', 'start salt-minion failed (exit 1)');
      },
    };
    const failing = {
      ...deps,
      service: broken,
      afterStep: (s: string) => {
        if (s === 'pinned') throw diskFull();
      },
    };
    const out = await reauthenticate(failing, { fingerprint: pemFinger(newMaster), origin: 'local' });
    assert.equal(out.code, 'FS_WRITE_FAILED');
    assert.match(out.message ?? '', /it is down/);
    assert.equal((await deps.journal.read())?.step, 'pinned');
  });
});
