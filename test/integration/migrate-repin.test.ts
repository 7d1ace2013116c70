// Repin mode: the new conductor's Salt master carries ANOTHER key, so every router is re-pinned to it
// through the fleet re-authentication path after `migrate conductor`: a signed reauth (real router
// agents over real WebSockets to the old conductor-agent) carrying the new master's fingerprint, the
// key gate on the new master (Salt master simulator), test.ping through the new salt-api emulator.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../conductor-agent/cli/main.js';
import type { MigrateReport } from '../../conductor-agent/migrate/types.js';
import { memoryIo } from '../helpers/cli.js';
import { createSaltApiClient } from '../../conductor-agent/saltapi/client.js';
import { saltApiMinionProbe } from '../../conductor-agent/keys/minion-probe.js';
import { effectiveValue, minionConfigPaths } from '../../router-agent/minion/config-files.js';
import { pemFinger } from '../../shared/salt/fingerprint.js';
import { makeRepinWorld, REPIN_NEW, REPIN_OLD, type RepinWorld } from '../helpers/migrate-repin-world.js';

const pin = async (w: RepinWorld, id: string): Promise<string | undefined> => {
  const dir = w.routers.find((r) => r.id === id)!.paths.configDir;
  return (await effectiveValue(minionConfigPaths(dir), 'master_finger'))?.value;
};

/** The real command, in process, wired from configuration (daemon control socket, new salt-api). */
async function migrate(
  w: RepinWorld,
  ...extra: string[]
): Promise<{ code: number; report: MigrateReport; err: string }> {
  const io = memoryIo({});
  const code = await main(
    ['--root', w.pair.oldRoot, '--json', 'migrate', '--to', REPIN_NEW, '--from', REPIN_OLD, ...extra],
    io,
  );
  try {
    return { code, report: JSON.parse(io.out()) as MigrateReport, err: io.err() };
  } catch {
    throw new Error(`no JSON report (exit ${code}): ${io.out()}\n${io.err()}`);
  }
}

describe('integration: migrate in repin mode (new master key, fleet path, real agents)', function () {
  this.timeout(240_000);
  let w: RepinWorld;
  afterEach(async () => {
    await w?.close();
  });

  it('re-pins every router to the new master: signed pin, key gate on the new master, test.ping via the new salt-api', async () => {
    w = await makeRepinWorld(3);
    const newFp = pemFinger(await fsp.readFile(join(w.newSalt.pkiDir, 'master.pub')));
    const oldFp = pemFinger(await fsp.readFile(join(w.oldSalt.pkiDir, 'master.pub')));
    assert.notEqual(newFp, oldFp);
    const { code, report, err } = await migrate(w);
    assert.equal(code, 0, err.slice(-3000));
    assert.equal(report.trust?.mode, 'repin', JSON.stringify(report.findings));
    assert.equal(report.trust?.newFingerprint, newFp);
    assert.deepEqual(
      report.totals,
      { routers: 3, migrated: 3, skipped: 0, failed: 0, rolledBack: 0 },
      JSON.stringify(report.routers),
    );
    assert.equal(report.ok, true, JSON.stringify(report.verify));
    assert.deepEqual(
      report.verify?.map((c) => [c.name, c.status]),
      [
        ['ports', 'pass'],
        ['routers', 'pass'],
        ['minions', 'pass'],
      ],
    );
    for (const r of w.routers) {
      assert.equal(await pin(w, r.id), newFp, `${r.id} pins the new master`);
      // the key accepted on the new master is the one the router's agent reported (signed)
      const reported = w.conductor.server.fleet().find((e) => e.routerId === r.id)!.trustFacts!.minionKeyFingerprint;
      assert.equal(pemFinger(await fsp.readFile(join(w.newSalt.pkiDir, 'minions', r.id), 'utf8')), reported);
    }
    const answers = await saltApiMinionProbe(
      createSaltApiClient({
        url: w.newSalt.url,
        username: w.newSalt.username,
        password: w.newSalt.secret,
        eauth: 'sharedsecret',
      }),
      { timeoutSeconds: 2 },
    ).ping(w.routers.map((r) => r.id));
    assert.equal(answers.size, 3, 'every minion answers the NEW master');
  });

  it('an impostor key pending on the new master stays pending; the router is failed with evidence', async () => {
    w = await makeRepinWorld(2);
    const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    await fsp.writeFile(join(w.newSalt.pkiDir, 'minions_pre', 'r0002'), foreign);
    const { code, report, err } = await migrate(w);
    const by = new Map(report.routers.map((r) => [r.router, r]));
    assert.equal(by.get('r0001')?.outcome, 'migrated', `${JSON.stringify(by.get('r0001'))}\n${err.slice(-2000)}`);
    assert.equal(code, 5, 'some routers failed');
    const bad = by.get('r0002')!;
    assert.equal(bad.outcome, 'failed');
    assert.equal(bad.error?.code, 'MIGRATE_REPIN_FAILED');
    const evidence = (bad.error?.evidence ?? {}) as { minions?: { id: string; state: string; code: string }[] };
    assert.deepEqual(
      evidence.minions?.map((m) => [m.id, m.state, m.code]),
      [['r0002', 'impostor', 'FLEET_KEY_MISMATCH']],
    );
    assert.equal(await fsp.readFile(join(w.newSalt.pkiDir, 'minions_pre', 'r0002'), 'utf8'), foreign, 'left pending');
    assert.equal(existsSync(join(w.newSalt.pkiDir, 'minions', 'r0002')), false, 'never accepted');
    assert.equal(report.ok, false);
  });

  it('--dry-run names repin mode and changes nothing', async () => {
    w = await makeRepinWorld(2);
    const { code, report } = await migrate(w, '--dry-run');
    assert.equal(code, 0);
    assert.equal(report.trust?.mode, 'repin');
    assert.equal(report.dryRun, true);
    assert.equal(w.pair.oldSim.calls.filter((c) => c.startsWith('pcli:')).length, 0);
    for (const r of w.routers) assert.equal(await pin(w, r.id), undefined, 'no router was pinned');
    assert.deepEqual(await fsp.readdir(join(w.newSalt.pkiDir, 'minions')), []);
    assert.equal(existsSync(join(w.pair.oldRoot, 'var/lib/ssr-recovery/migrate/journal.jsonl')), false);
  });
});
