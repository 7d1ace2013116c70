import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main } from '../../conductor-agent/cli/main.js';
import { rsaPair } from '../../sandbox/conductor-tree.js';
import { memoryIo } from '../helpers/cli.js';
import { makeMigrateWorld, NEW_ADDR, NEW_ADDR_2, OLD_ADDR, type MigrateWorld } from '../helpers/migrate-world.js';
import type { MigrateReport } from '../../conductor-agent/migrate/types.js';
import { migrateDepsFromConfig } from '../../conductor-agent/migrate/from-config.js';
import { runMigrate } from '../../conductor-agent/migrate/run.js';
import type { RouterRepin } from '../../conductor-agent/migrate/trust.js';
import { loadConfig } from '../../shared/config/load.js';
import { nullLogger } from '../../shared/log/logger.js';
import { pemFinger } from '../../shared/salt/fingerprint.js';

async function migrate(
  w: MigrateWorld,
  ...extra: string[]
): Promise<{ code: number; report: MigrateReport; err: string }> {
  const io = memoryIo({});
  const code = await main(['--root', w.oldRoot, '--json', 'migrate', '--to', w.to.join(','), ...extra], io);
  let report: MigrateReport;
  try {
    report = JSON.parse(io.out()) as MigrateReport;
  } catch {
    throw new Error(`no JSON report (exit ${code}): ${io.out()}\n${io.err()}`);
  }
  return { code, report, err: io.err() };
}

describe('conductor-agent migrate between two SSR simulators on loopback', function () {
  this.timeout(120_000);
  let w: MigrateWorld;
  afterEach(async () => {
    await w?.close();
  });

  it('moves a few hundred routers, config committed with the new conductor-address, keys gated, verified', async () => {
    w = await makeMigrateWorld({ routers: 300 });
    const { code, report, err } = await migrate(w);
    assert.equal(code, 0, err);
    assert.equal(report.ok, true);
    assert.deepEqual(report.totals, { routers: 300, migrated: 300, skipped: 0, failed: 0, rolledBack: 0 });
    assert.equal(report.trust?.mode, 'same-key');
    assert.deepEqual(w.newSim.running['conductor-address'], [NEW_ADDR]);
    assert.equal(w.newSim.running.router.length, 300);
    for (const r of w.world.routers.values()) assert.deepEqual(r.conductors, [NEW_ADDR]);
    const accepted = await readdir(join(w.newRoot, 'etc/128technology/salt/pki/master/minions'));
    assert.equal(accepted.length, 300);
    assert.deepEqual(await readdir(join(w.newRoot, 'etc/128technology/salt/pki/master/minions_pre')), []);
    assert.deepEqual(
      report.verify?.map((c) => [c.name, c.status]),
      [
        ['ports', 'pass'],
        ['routers', 'pass'],
        ['minions', 'skip'],
      ],
    );
    assert.ok(
      w.oldSim.calls.filter((c) => c.startsWith('pcli:migrate force conductor 127.8.0.3 router ')).length === 300,
    );
    assert.ok(report.backup?.archive, 'a backup was taken first');
    // a second run changes nothing: every router is already Running on the new conductor
    const again = await migrate(w);
    assert.equal(again.code, 0, again.err);
    assert.equal(again.report.totals.skipped, 300);
    assert.equal(w.oldSim.calls.filter((c) => c.startsWith('pcli:')).length, 300);
  });

  it('moves routers to an HA pair: migrate conductor <a1> <a2>, both addresses in the config and probed', async () => {
    w = await makeMigrateWorld({ routers: 20, ha: true });
    const { code, report, err } = await migrate(w);
    assert.equal(code, 0, err);
    assert.deepEqual(w.newSim.running['conductor-address'], [NEW_ADDR, NEW_ADDR_2]);
    assert.ok(w.oldSim.calls.includes(`pcli:migrate force conductor ${NEW_ADDR} ${NEW_ADDR_2} router r0001`));
    for (const r of w.world.routers.values()) assert.deepEqual(r.conductors, [NEW_ADDR, NEW_ADDR_2]);
    assert.match(
      report.findings.find((f) => f.check === 'ports')!.message,
      new RegExp(NEW_ADDR_2.replace(/\./g, '\\.')),
    );
    // step 5 alone, at any time: verify --conductor ADDR[,ADDR2]
    const io = memoryIo({});
    const vcode = await main(
      ['--root', w.oldRoot, '--json', 'verify', '--conductor', w.to.join(','), '--timeout', '10'],
      io,
    );
    assert.equal(vcode, 0, io.err());
    const checks = (JSON.parse(io.out()) as { checks: Array<{ name: string; status: string; summary: string }> })
      .checks;
    assert.deepEqual(
      checks.map((c) => [c.name, c.status]),
      [
        ['ports', 'pass'],
        ['routers', 'pass'],
        ['minions', 'skip'],
      ],
    );
    assert.match(checks[0]!.summary, /127\.8\.0\.3, 127\.8\.0\.4/);
    assert.match(checks[1]!.summary, /^20 router/);
  });

  it('a commit failure on the new conductor migrates no router and leaves its running config as it was', async () => {
    w = await makeMigrateWorld({ routers: 10 });
    w.newSim.faults.commitErrors.push('router r0003: interface ge-0-1 does not exist');
    const { code, report } = await migrate(w);
    assert.equal(code, 1);
    assert.equal((report as unknown as { error: { code: string } }).error.code, 'SSR_COMMIT_FAILED');
    assert.equal(w.newSim.running.router.length, 0);
    assert.ok(w.newSim.calls.includes('revert'), 'the candidate is dropped again');
    for (const r of w.world.routers.values()) assert.deepEqual(r.conductors, [OLD_ADDR]);
    assert.equal(w.oldSim.calls.filter((c) => c.startsWith('pcli:')).length, 0);
    // fixed: the re-run resumes from the journal and finishes
    w.newSim.faults.commitErrors.length = 0;
    const again = await migrate(w);
    assert.equal(again.code, 0, again.err);
    assert.equal(again.report.resumed, true);
    assert.equal(again.report.totals.migrated, 10);
  });

  it('a router stuck in Connected is reported with evidence (partial exit) and rolled back when asked', async () => {
    w = await makeMigrateWorld({ routers: 6, migrate: { runningTimeoutSeconds: 3 } });
    w.world.faults.stuckConnected.add('r0004');
    const { code, report, err } = await migrate(w, '--rollback-on-failure');
    assert.equal(code, 5, err);
    const stuck = report.routers.find((r) => r.router === 'r0004')!;
    assert.equal(stuck.outcome, 'rolled-back', JSON.stringify(stuck));
    assert.equal(stuck.error?.code, 'MIGRATE_ROUTER_FAILED');
    assert.match(stuck.error!.message, /Running.*node0=connected/);
    assert.equal(stuck.rollback?.ok, true);
    assert.deepEqual(w.world.routers.get('r0004')!.conductors, [OLD_ADDR]);
    assert.ok(
      w.newSim.calls.includes(`pcli:migrate force conductor ${OLD_ADDR} router r0004`),
      'rolled back from the new conductor',
    );
    assert.equal(report.totals.migrated, 5);
  });

  it('--dry-run shows the plan and the config diff and changes nothing anywhere', async () => {
    w = await makeMigrateWorld({ routers: 8 });
    const before = await readdir(join(w.oldRoot, 'var/log/128technology'));
    const { code, report, err } = await migrate(w, '--dry-run');
    assert.equal(code, 0, err);
    assert.equal(report.dryRun, true);
    assert.deepEqual(report.config?.diff.conductorAddress, { before: [OLD_ADDR], after: [NEW_ADDR] });
    assert.equal(report.config?.diff.addRouters.length, 8);
    assert.equal(report.routers.length, 8);
    assert.deepEqual(w.newSim.calls, []);
    assert.deepEqual(w.oldSim.calls, []);
    assert.deepEqual(await readdir(join(w.oldRoot, 'var/log/128technology')), before, 'no backup taken');
    await assert.rejects(readdir(join(w.oldRoot, 'var/lib/ssr-recovery/migrate')), 'no journal written');
    for (const r of w.world.routers.values()) assert.deepEqual(r.conductors, [OLD_ADDR]);
  });

  it('attacker owning one router id: a different key on the new master is never accepted', async () => {
    w = await makeMigrateWorld({ routers: 4, migrate: { runningTimeoutSeconds: 3, connectedTimeoutSeconds: 3 } });
    const evil = rsaPair(1024).publicKey;
    w.world.routers.get('r0002')!.nodes[0]!.minionPub = evil;
    const { code, report } = await migrate(w);
    assert.equal(code, 5);
    const r2 = report.routers.find((r) => r.router === 'r0002')!;
    assert.equal(r2.outcome, 'failed');
    assert.equal(r2.error?.code, 'KEYS_REFUSED');
    const pki = join(w.newRoot, 'etc/128technology/salt/pki/master');
    await assert.rejects(readFile(join(pki, 'minions', 'r0002')), 'not accepted');
    assert.equal(await readFile(join(pki, 'minions_pre', 'r0002'), 'utf8'), evil, 'left pending for a human');
  });

  it('a new master key with a re-pin path: each router is re-pinned to exactly that key once Connected', async () => {
    w = await makeMigrateWorld({ routers: 6, sameKey: false });
    const loaded = loadConfig({ agent: 'conductor-agent', root: w.oldRoot, env: {}, overrides: {} });
    const ctx = { config: loaded.config, loaded, logger: nullLogger, io: memoryIo({}) };
    const deps = await migrateDepsFromConfig(ctx, {
      to: w.to,
      from: [OLD_ADDR],
      rate: 100,
      dryRun: false,
      resume: false,
      rollbackOnFailure: false,
    });
    const pinned: Array<[string, string[], string]> = [];
    // the fleet re-authentication port (conductor-agent/fleet/, wired at integration): here it records
    const repin: RouterRepin = {
      available: true,
      description: 'recording',
      async repin(r, ids, fp) {
        pinned.push([r, [...ids], fp]);
      },
    };
    deps.repin = repin;
    const report = await runMigrate(deps);
    const newPub = await readFile(join(w.newRoot, 'etc/128technology/salt/pki/master/master.pub'));
    assert.equal(report.ok, true, JSON.stringify(report.findings));
    assert.equal(report.trust?.mode, 'repin');
    assert.deepEqual(pinned.map((p) => p[0]).sort(), w.routerNames);
    for (const [r, ids, fp] of pinned) {
      assert.deepEqual(ids, [r]);
      assert.equal(fp, pemFinger(newPub));
    }
  });

  it('refuses at preflight, changing nothing, when the new master has another key and no re-pin path exists', async () => {
    w = await makeMigrateWorld({ routers: 3, sameKey: false });
    const { code, report } = await migrate(w);
    assert.equal(code, 4);
    const trust = report.findings.find((f) => f.check === 'trust')!;
    assert.equal(trust.ok, false);
    assert.equal((trust.details as { code: string }).code, 'MIGRATE_TRUST_UNAVAILABLE');
    assert.deepEqual(w.newSim.calls, []);
    assert.deepEqual(w.oldSim.calls, []);
  });

  it('refuses at preflight, changing nothing: the old address as --to, routers on the new conductor the old one lacks', async () => {
    w = await makeMigrateWorld({ routers: 2 });
    const same = await migrate({ ...w, to: [OLD_ADDR] });
    assert.equal(same.code, 4);
    assert.equal(same.report.findings.find((f) => f.check === 'addresses')!.ok, false);
    w.newSim.running.router.push({ name: 'stranger', node: [] });
    const conflict = await migrate(w);
    assert.equal(conflict.code, 4);
    assert.match(conflict.report.findings.find((f) => f.check === 'new-config')!.message, /stranger/);
    assert.deepEqual(w.oldSim.calls, []);
  });

  it('the API going away mid-run fails the routers in flight with evidence; a re-run finishes them', async () => {
    w = await makeMigrateWorld({
      routers: 40,
      migrate: { rate: 20, connectedTimeoutSeconds: 1, runningTimeoutSeconds: 1 },
    });
    w.world.onMigrate = (_r, n) => {
      if (n === 10) w.newSim.faults.apiDown = true;
    };
    const first = await migrate(w);
    assert.ok(first.code === 5 || first.code === 1, `exit ${first.code}`);
    assert.ok(first.report.totals.failed > 0);
    w.newSim.faults.apiDown = false;
    const again = await migrate(w);
    assert.equal(again.code, 0, again.err);
    assert.equal(again.report.resumed, true);
    for (const r of w.world.routers.values()) assert.deepEqual(r.conductors, [NEW_ADDR]);
  });
});
