/**
 * kill -9 at every journal phase: the real CLI (dist/) is forked with SSR_RECOVERY_MIGRATE_FAULT naming
 * the phase after whose record it kills itself; a second run (`--resume`) must finish with every router
 * Running on exactly one conductor, the configuration committed once, no key left pending and nothing
 * of the old conductor changed. In repin mode (the new master has another key) the kill points are its
 * repin phases, with real router agents that outlive the killed run.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeMigrateWorld, NEW_ADDR, OLD_ADDR, type MigrateWorld } from '../helpers/migrate-world.js';
import { makeRepinWorld, type RepinWorld } from '../helpers/migrate-repin-world.js';
import { effectiveValue, minionConfigPaths } from '../../router-agent/minion/config-files.js';
import { pemFinger } from '../../shared/salt/fingerprint.js';
import { forkCli, type CliRun } from '../faults/fork-cli.js';

function cli(w: MigrateWorld, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return forkCli(['--root', w.oldRoot, '--json', 'migrate', '--to', w.to.join(','), ...args], env);
}

const FORWARD = [
  'started',
  'backup-ready',
  'config-exported',
  'config-transferred',
  'config-imported',
  'config-committed',
  'trust-checked',
  'router-migrating:3',
  'router-connected:3',
  'router-key-accepted:3',
  'router-running:3',
  'router-done:3',
  'verified',
  'finished',
];
const BACKWARD = ['router-failed:1', 'router-rolling-back:1', 'router-rolled-back:1'];

async function assertNothingLost(w: MigrateWorld, stuck?: string): Promise<void> {
  assert.equal(w.oldSim.running.router.length, w.routerNames.length, 'the old config is untouched');
  assert.deepEqual(w.newSim.running['conductor-address'], w.to);
  assert.equal(w.newSim.running.router.length, w.routerNames.length);
  for (const r of w.world.routers.values()) {
    assert.deepEqual(r.conductors, r.name === stuck ? [OLD_ADDR] : [NEW_ADDR], r.name);
  }
  const pki = join(w.newRoot, 'etc/128technology/salt/pki/master');
  // Salt lists no dot-files as keys, so a temp file a killed write left behind is not a key.
  const keys = async (d: string): Promise<string[]> => (await readdir(join(pki, d))).filter((f) => !f.startsWith('.'));
  const pending = await keys('minions_pre');
  assert.deepEqual(
    pending.filter((p) => p !== stuck),
    [],
  );
  const accepted = await keys('minions');
  assert.equal(accepted.length, w.routerNames.length - (stuck && !accepted.includes(stuck) ? 1 : 0));
}

describe('migrate killed with SIGKILL at every journal phase, then resumed or rolled back', function () {
  this.timeout(120_000);
  let w: MigrateWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  for (const fault of FORWARD) {
    it(`kill -9 after ${fault}: --resume finishes with nothing lost`, async () => {
      w = await makeMigrateWorld({ routers: 8, migrate: { rate: 50 } });
      const killed = await cli(w, [], { SSR_RECOVERY_MIGRATE_FAULT: fault });
      assert.equal(killed.signal, 'SIGKILL', `not killed: exit ${killed.code} ${killed.err.slice(-800)}`);
      const resumed = await cli(w, ['--resume']);
      assert.equal(resumed.code, 0, resumed.err.slice(-2000));
      const report = JSON.parse(resumed.out) as { ok: boolean; totals: { migrated: number; skipped: number } };
      assert.equal(report.ok, true);
      assert.equal(report.totals.migrated + report.totals.skipped, 8);
      await assertNothingLost(w);
      const commits = w.newSim.calls.filter((c) => c === 'commit').length;
      assert.ok(commits >= 1 && commits <= 2, `committed ${commits} times`);
    });
  }

  for (const fault of BACKWARD) {
    it(`kill -9 after ${fault} (router stuck in Connected): --resume --rollback-on-failure rolls it back`, async () => {
      w = await makeMigrateWorld({ routers: 5, migrate: { rate: 50, runningTimeoutSeconds: 3 } });
      w.world.faults.stuckConnected.add('r0002');
      const killed = await cli(w, ['--rollback-on-failure'], { SSR_RECOVERY_MIGRATE_FAULT: fault });
      assert.equal(killed.signal, 'SIGKILL', `not killed: exit ${killed.code} ${killed.err.slice(-800)}`);
      const resumed = await cli(w, ['--resume', '--rollback-on-failure']);
      assert.equal(resumed.code, 5, resumed.err.slice(-2000));
      const report = JSON.parse(resumed.out) as { routers: Array<{ router: string; outcome: string }> };
      assert.equal(report.routers.find((r) => r.router === 'r0002')?.outcome, 'rolled-back');
      await assertNothingLost(w, 'r0002');
    });
  }

  it('a plain re-run notices an unfinished journal and resumes it; other arguments are refused', async () => {
    w = await makeMigrateWorld({ routers: 4, migrate: { rate: 50 } });
    const killed = await cli(w, [], { SSR_RECOVERY_MIGRATE_FAULT: 'router-done:2' });
    assert.equal(killed.signal, 'SIGKILL');
    const other = await cli(w, ['--routers', 'r0001']);
    assert.equal(other.code, 6, other.err);
    assert.equal((JSON.parse(other.out) as { error: { code: string } }).error.code, 'MIGRATE_JOURNAL_PRESENT');
    const plain = await cli(w, []);
    assert.equal(plain.code, 0, plain.err.slice(-2000));
    assert.equal((JSON.parse(plain.out) as { resumed: boolean }).resumed, true);
    await assertNothingLost(w);
  });
});

describe('migrate in repin mode killed with SIGKILL at its repin phases, then resumed', function () {
  this.timeout(240_000);
  let rw: RepinWorld | undefined;
  afterEach(async () => {
    await rw?.close();
    rw = undefined;
  });

  for (const fault of ['router-repinning:2', 'router-repinned:2']) {
    it(`kill -9 after ${fault}: --resume re-pins every router to the new master with nothing lost`, async () => {
      rw = await makeRepinWorld(3);
      const killed = await cli(rw.pair, [], { SSR_RECOVERY_MIGRATE_FAULT: fault });
      assert.equal(killed.signal, 'SIGKILL', `not killed: exit ${killed.code} ${killed.err.slice(-800)}`);
      const resumed = await cli(rw.pair, ['--resume']);
      assert.equal(resumed.code, 0, resumed.err.slice(-3000));
      const report = JSON.parse(resumed.out) as { ok: boolean; trust: { mode: string }; totals: { migrated: number } };
      assert.equal(report.trust.mode, 'repin');
      assert.equal(report.totals.migrated, 3);
      const newFp = pemFinger(await readFile(join(rw.newSalt.pkiDir, 'master.pub')));
      for (const r of rw.routers) {
        const pinned = await effectiveValue(minionConfigPaths(r.paths.configDir), 'master_finger');
        assert.equal(pinned?.value, newFp, `${r.id} pins the new master`);
        const reported: string | undefined = rw.conductor.server.fleet().find((e) => e.routerId === r.id)
          ?.trustFacts?.minionKeyFingerprint;
        assert.equal(pemFinger(await readFile(join(rw.newSalt.pkiDir, 'minions', r.id), 'utf8')), reported);
      }
      assert.deepEqual(
        (await readdir(join(rw.newSalt.pkiDir, 'minions_pre'))).filter((f) => !f.startsWith('.')),
        [],
      );
    });
  }
});
