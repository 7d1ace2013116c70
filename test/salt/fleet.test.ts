// The fleet wave on real Salt 3006.18 at rig size: four real minions, each with a real router-agent
// daemon, the conductor-agent daemon on the rig's real salt-api. The conductor loses its master key
// AND its minion keys (a rebuilt master), so every returning minion is held pending by the real
// master. `conductor-agent reauth --all` re-authenticates router-1..3 through their agents; the key
// gate accepts exactly the pending keys their agents reported in peacetime; a router counts as done
// only when it answers the real test.ping through the real salt-api. router-4 went offline and
// something else now answers with its id and another key: that key stays pending (possible impostor).
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { pemFingerFile } from '../../shared/salt/fingerprint.js';
import { startRig, type Rig } from './rig.js';
import {
  cli,
  conductorBin,
  conductorPins,
  freePort,
  launch,
  routerBin,
  saltKeyMasterFinger,
  until,
  writeConductorConfig,
  writeRouterConfig,
  type Proc,
} from './support.js';

const PKI = 'etc/128technology/salt/pki/master';
const IDS = ['router-1', 'router-2', 'router-3', 'router-4'];
const BACK = IDS.slice(0, 3);

interface PlanRow {
  routerId: string;
  action: string;
  blocked?: string;
  expectedMinionFingerprint?: string;
}
interface Outcome {
  routerId: string;
  state: string;
  channel?: string;
  code?: string;
  timings?: Record<string, number>;
  minionKeyFingerprint?: string;
}

describe('real Salt: fleet wave after a master rebuilt without its keys (reauth --all)', () => {
  let rig: Rig;
  const agents = new Map<string, Proc>();
  let conductor: Proc;
  const reported = new Map<string, string>();

  const pkiKeyList = async (): Promise<Record<string, string[]>> =>
    JSON.parse((await rig.saltKey(['-L', '--out', 'json'])).stdout) as Record<string, string[]>;
  const plan = async (): Promise<PlanRow[]> => {
    const r = await cli(conductorBin, ['reauth', '--all', '--dry-run', '--json', '--root', rig.root], rig.env);
    assert.equal(r.code, 0, `${r.out}\n${r.err.slice(-2000)}`);
    return (r.json?.plan ?? []) as PlanRow[];
  };

  before(async () => {
    rig = await startRig({ minions: IDS, addr: `127.22.200.${randomInt(1, 255)}` });
    const agentsPort = await freePort(rig.addr);
    // Metrics on free ports: fixed defaults collide with other daemons on this machine.
    writeConductorConfig(rig, { agentsPort, extra: { observe: { listen: `${rig.addr}:0` } } });
    conductor = launch(conductorBin, ['daemon', '--json', '--root', rig.root], rig.env);
    await until('the conductor-agent daemon', () => conductor.out().includes('"event":"ready"'), 60_000, conductor);
    const pins = await conductorPins(rig);
    for (const id of IDS) {
      writeRouterConfig(rig, id, { agentsPort, pins });
      const file = join(rig.minionRoot(id), 'etc/ssr-recovery/router-agent.yaml');
      const cfg = parse(await readFile(file, 'utf8')) as Record<string, unknown>;
      await writeFile(file, stringify({ ...cfg, observe: { listen: `${rig.addr}:0` } }));
      agents.set(id, launch(routerBin, ['daemon', '--json', '--root', rig.minionRoot(id)], rig.env));
    }
  });
  after(async () => {
    const procs = [...agents.values(), conductor].filter(Boolean);
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => Promise.race([p.exit, new Promise((r) => setTimeout(r, 10_000))])));
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await rig?.stop();
  });

  it('in peacetime every agent enrolls and reports its minion key fingerprint (signed)', async () => {
    await until(
      'all four agents enrolled with a reported minion key',
      async () => {
        const rows = await plan();
        for (const r of rows) if (r.expectedMinionFingerprint) reported.set(r.routerId, r.expectedMinionFingerprint);
        return IDS.every((id) => reported.has(id));
      },
      180_000,
      conductor,
    );
    for (const id of IDS) {
      const onDisk = await pemFingerFile(join(rig.minionRoot(id), 'etc/salt/pki/minion/minion.pub'));
      assert.equal(reported.get(id), onDisk, `${id}: the reported fingerprint is its real minion key`);
    }
  });

  it('rebuilt master: the wave brings router-1..3 back through their agents, router-4 impostor stays pending', async () => {
    // router-4 goes offline; something else answers as router-4 with a key of its own.
    const r4 = agents.get('router-4')!;
    r4.child.kill('SIGTERM');
    await r4.exit;
    await rig.stopMinion('router-4');
    for (const f of ['minion.pem', 'minion.pub'])
      await unlink(join(rig.minionRoot('router-4'), 'etc/salt/pki/minion', f));
    // The conductor is rebuilt: a new master key and none of the minion keys.
    const old = await saltKeyMasterFinger(rig);
    await rig.stopMaster();
    for (const f of ['master.pem', 'master.pub']) await rm(join(rig.root, PKI, f), { force: true });
    for (const d of ['minions', 'minions_pre', 'minions_denied', 'minions_rejected']) {
      await rm(join(rig.root, PKI, d), { recursive: true, force: true });
    }
    // The rebuilt conductor's master does not accept keys by itself (the rig's peacetime one did).
    const masterCfg = join(rig.masterConfigDir, 'master');
    const cfg = parse(await readFile(masterCfg, 'utf8')) as Record<string, unknown>;
    await writeFile(masterCfg, stringify({ ...cfg, auto_accept: false }));
    await rig.startMaster();
    const fresh = await saltKeyMasterFinger(rig);
    assert.notEqual(fresh, old);
    await rig.startMinion('router-4');
    await until(
      'the impostor key pending',
      async () => (await pkiKeyList()).minions_pre?.includes('router-4') === true,
      60_000,
    );
    assert.deepEqual(await rig.ping(BACK, 5), [], 'no stale minion answers the rebuilt master');

    const t0 = Date.now();
    const r = await cli(conductorBin, ['reauth', '--all', '--rate', '5', '--json', '--root', rig.root], rig.env);
    const tail = `${r.out}\n${r.err.slice(-3000)}\n${BACK.map((id) => agents.get(id)!.err().slice(-1500)).join('\n')}`;
    assert.equal(r.code, 5, `partial: router-4 is not done\n${tail}`);
    const outcomes = new Map(((r.json?.routers ?? []) as Outcome[]).map((o) => [o.routerId, o]));
    for (const id of BACK) {
      const o = outcomes.get(id);
      assert.equal(o?.state, 'done', `${id}: ${JSON.stringify(o)}\n${tail}`);
      assert.equal(o.channel, 'agent');
      assert.equal(o.minionKeyFingerprint, reported.get(id), `${id}: the gate accepted the reported key`);
      assert.equal(typeof o.timings?.pinged, 'number', `${id}: done only after test.ping`);
    }
    const imp = outcomes.get('router-4');
    assert.equal(imp?.state, 'impostor', JSON.stringify(imp));
    assert.equal(imp.code, 'FLEET_KEY_MISMATCH');
    assert.equal((r.json?.conductor as { id?: string } | undefined)?.id !== undefined, true);

    // What real Salt says afterwards: three accepted and answering, the impostor's key still pending.
    const keys = await pkiKeyList();
    assert.deepEqual([...(keys.minions ?? [])].sort(), BACK);
    assert.deepEqual(keys.minions_pre, ['router-4']);
    const pending = await pemFingerFile(join(rig.root, PKI, 'minions_pre/router-4'));
    assert.notEqual(pending, reported.get('router-4'));
    assert.deepEqual((await rig.ping(BACK, 10)).sort(), BACK);
    for (const id of BACK) {
      assert.equal(await pemFingerFile(join(rig.minionRoot(id), 'etc/salt/pki/minion/minion_master.pub')), fresh);
    }
    console.error(`      wave over ${BACK.length} real minions: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  it('a re-run skips what is back (idempotent) and still refuses the impostor', async () => {
    const rows = new Map((await plan()).map((p) => [p.routerId, p]));
    for (const id of BACK) assert.equal(rows.get(id)?.action, 'skip', JSON.stringify(rows.get(id)));
    assert.equal(rows.get('router-4')?.action, 'blocked');
    assert.equal(rows.get('router-4')?.blocked, 'impostor');
  });
});
