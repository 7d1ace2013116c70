// Repin mode: the new conductor's Salt master carries ANOTHER key, so every router is re-pinned to it
// through the fleet re-authentication path after `migrate conductor`: a signed reauth (real router
// agents over real WebSockets to the old conductor-agent) carrying the new master's fingerprint, the
// key gate on the new master (Salt master simulator), test.ping through the new salt-api emulator.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { reauthRouter } from '../../conductor-agent/reauth/single.js';
import { createSaltApiClient } from '../../conductor-agent/saltapi/client.js';
import { saltApiMinionProbe } from '../../conductor-agent/keys/minion-probe.js';
import type { AgentChannel } from '../../conductor-agent/fleet/ports.js';
import { migrateDepsFromConfig } from '../../conductor-agent/migrate/from-config.js';
import { localFiles } from '../../conductor-agent/migrate/files.js';
import { fleetRepin, newMasterKeys } from '../../conductor-agent/migrate/repin.js';
import { runMigrate } from '../../conductor-agent/migrate/run.js';
import type { MigrateDeps } from '../../conductor-agent/migrate/deps.js';
import { effectiveValue, minionConfigPaths } from '../../router-agent/minion/config-files.js';
import { loadConfig } from '../../shared/config/load.js';
import { nullLogger } from '../../shared/log/logger.js';
import { systemClock } from '../../shared/ports/clock.js';
import { pemFinger } from '../../shared/salt/fingerprint.js';
import type { SaltSandbox } from '../../sandbox/saltapi-emulator/sandbox.js';
import { makeRepinWorld, REPIN_NEW, REPIN_OLD, type RepinWorld } from '../helpers/migrate-repin-world.js';

const pin = async (w: RepinWorld, id: string): Promise<string | undefined> => {
  const dir = w.routers.find((r) => r.id === id)!.paths.configDir;
  return (await effectiveValue(minionConfigPaths(dir), 'master_finger'))?.value;
};

async function depsFor(w: RepinWorld, over: { dryRun?: boolean; rollbackOnFailure?: boolean } = {}) {
  const loaded = loadConfig({ agent: 'conductor-agent', root: w.pair.oldRoot, env: {}, overrides: {} });
  const ctx = {
    config: loaded.config,
    loaded,
    logger: nullLogger,
    io: { stdout: () => undefined, stderr: () => undefined, env: {}, isTTY: false },
  };
  const deps: MigrateDeps = await migrateDepsFromConfig(ctx, {
    to: [REPIN_NEW],
    from: [REPIN_OLD],
    rate: 20,
    dryRun: over.dryRun ?? false,
    resume: false,
    rollbackOnFailure: over.rollbackOnFailure ?? false,
  });
  const agent: AgentChannel = {
    async reauth(routerId, fingerprint, timeoutMs) {
      const r = await reauthRouter({ server: w.conductor.server, routerId, fingerprint, routerTimeoutMs: timeoutMs });
      return { ok: r.ok, code: r.outcome.code, message: r.outcome.message, evidence: r.outcome.evidence };
    },
  };
  const target = (sb: SaltSandbox, files: ReturnType<typeof localFiles>) => ({
    keys: newMasterKeys({
      files,
      newPkiDir: '/etc/128technology/salt/pki/master',
      oldAccepted: (id) => fsp.readFile(join(w.oldSalt.pkiDir, 'minions', id), 'utf8').catch(() => undefined),
      hashType: 'sha256',
    }),
    pinger: saltApiMinionProbe(
      createSaltApiClient({ url: sb.url, username: sb.username, password: sb.secret, eauth: sb.eauth }),
      { timeoutSeconds: 2 },
    ),
  });
  deps.repin = fleetRepin(
    {
      agent,
      sources: {
        fleet: async () => w.conductor.server.fleet(),
        reported: async () => new Map(),
        sshRoutes: async () => new Map(),
      },
      new: target(w.newSalt, deps.files),
      old: target(w.oldSalt, localFiles(w.pair.oldRoot)),
      clock: systemClock,
      logger: nullLogger,
    },
    { routerTimeoutMs: 20_000, verifyTimeoutMs: 20_000 },
  );
  return deps;
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
    const deps = await depsFor(w);
    const report = await runMigrate(deps);
    await deps.files.close();
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
    const deps = await depsFor(w);
    const report = await runMigrate(deps);
    await deps.files.close();
    const by = new Map(report.routers.map((r) => [r.router, r]));
    assert.equal(by.get('r0001')?.outcome, 'migrated', JSON.stringify(by.get('r0001')));
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
    const deps = await depsFor(w, { dryRun: true });
    const report = await runMigrate(deps);
    await deps.files.close();
    assert.equal(report.trust?.mode, 'repin');
    assert.equal(report.dryRun, true);
    assert.equal(w.pair.oldSim.calls.filter((c) => c.startsWith('pcli:')).length, 0);
    for (const r of w.routers) assert.equal(await pin(w, r.id), undefined, 'no router was pinned');
    assert.deepEqual(await fsp.readdir(join(w.newSalt.pkiDir, 'minions')), []);
    assert.equal(existsSync(join(w.pair.oldRoot, 'var/lib/ssr-recovery/migrate/journal.jsonl')), false);
  });
});
