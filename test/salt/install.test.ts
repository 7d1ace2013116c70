// Real Salt (issue 11): the formula, applied for real by Salt 3006 minions from the master's
// fileserver (the `npm run release` tree), installs a pair that works. ssr_recovery.conductor on
// the conductor's own minion and ssr_recovery.router on two routers, each into a prefix under the
// rig root; the daemons start from the units and files the formula installed (not from the
// repository); the router agents enroll; after a master-key loss `conductor-agent reauth` through
// the installed pair, and `salt-run state.orch orch.reauth`, re-authenticate them; clean.sls
// removes everything it installed. Also: real Salt renders every .sls exactly as the `npm test`
// renderer (test/fixtures/salt-render/render.py) does.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomInt } from 'node:crypto';
import { stringify } from 'yaml';
import { allSls, parseSls, render } from '../helpers/salt-render.js';
import { startRig, type Rig } from './rig.js';
import { freePort, launch, until, type Proc } from './support.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const ROUTERS = ['router-1', 'router-2'];
type Obj = Record<string, unknown>;

/** Where one host's installation goes: a prefix of its own under the rig root. */
const hostRoot = (rig: Rig, id: string) => join(rig.root, 'install', id);

type Pins = { agentPublicKey: string; certFingerprint: string };

function pillarFor(rig: Rig, id: string, agentsPort: number, pins?: Pins): Obj {
  const h = hostRoot(rig, id);
  const common = {
    prefix: `${h}/opt/ssr-recovery`,
    bin_dir: `${h}/usr/local/bin`,
    unit_dir: `${h}/etc/systemd/system`,
    config_dir: `${h}/etc/ssr-recovery`,
    manage_services: false,
    node: { bin: process.execPath },
  };
  if (id === 'conductor') {
    return {
      ssr_recovery: {
        ...common,
        conductor: {
          state_dir: `${h}/var/lib/ssr-recovery`,
          agents_listen: `${rig.addr}:${agentsPort}`,
          observe_listen: `${rig.addr}:0`, // never the fixed default port: another daemon may hold it
          control_socket: `${h}/run/ssr-recovery/conductor-agent.sock`,
          salt_api_url: rig.apiUrl,
          salt_api_eauth: rig.apiEauth,
          salt_api_username: rig.apiUser,
          salt_api_password_file: rig.apiPasswordFile,
          salt_master_config: join(rig.masterConfigDir, 'master'),
          salt_pki_dir: join(rig.root, 'etc/128technology/salt/pki/master'),
          backup: { dir: `${h}/var/log/128technology`, schedule: '' },
        },
      },
    };
  }
  const m = rig.minionRoot(id);
  return {
    ssr_recovery: {
      ...common,
      router: {
        state_dir: `${h}/var/lib/ssr-recovery-router`,
        minion_config_dir: `${m}/etc/salt`,
        minion_pki_dir: `${m}/etc/salt/pki/minion`,
        minion_log_file: `${m}/var/log/salt/minion`,
        conductor_addresses: [`${rig.addr}:${agentsPort}`],
        conductor_agent_public_key: pins?.agentPublicKey ?? '',
        conductor_cert_fingerprint: pins?.certFingerprint ?? '',
        salt_call: rig.saltCallCommand(id),
        services: { minion: rig.minionServiceCommands(id) },
      },
    },
  };
}

function writePillars(rig: Rig, pillars: Record<string, Obj>): void {
  const dir = join(rig.root, 'srv/pillar'); // the rig master's pillar_roots
  mkdirSync(dir, { recursive: true });
  const top: Record<string, string[]> = {};
  for (const [id, p] of Object.entries(pillars)) {
    const name = `host_${id.replace(/-/g, '_')}`;
    writeFileSync(join(dir, `${name}.sls`), stringify(p));
    top[id] = [name];
  }
  writeFileSync(join(dir, 'top.sls'), stringify({ base: top }));
}

/** `state.apply` on minions through the master; every state must succeed. */
async function apply(rig: Rig, tgt: string, sls: string): Promise<Record<string, Obj>> {
  const r = await rig.salt(['-L', tgt, 'state.apply', sls, '--out=json', '--static', '--timeout=120'], 300_000);
  const out = JSON.parse(r.stdout || '{}') as Record<string, Record<string, Obj> | string[]>;
  for (const id of tgt.split(',')) {
    const states = out[id];
    assert.ok(states && !Array.isArray(states), `${sls} on ${id}: ${r.stdout}\n${r.stderr}`);
    const failed = Object.entries(states)
      .filter(([, s]) => s.result !== true)
      .map(([k, s]) => `${k}: ${String(s.comment)}`);
    assert.deepEqual(failed, [], `${sls} on ${id}`);
  }
  return out as Record<string, Obj>;
}

/** The unit file the formula installed, started as systemd would (ExecStart, no shell). */
function startUnit(unitFile: string, env: NodeJS.ProcessEnv): Proc {
  const line = /^ExecStart=(.*)$/m.exec(readFileSync(unitFile, 'utf8'))?.[1];
  assert.ok(line, `${unitFile} has an ExecStart`);
  const [node, ...rest] = line.split(/\s+/);
  assert.equal(node, process.execPath);
  const nodeOptions = rest.slice(
    0,
    rest.findIndex((a) => !a.startsWith('-')),
  );
  const [script, ...args] = rest.slice(nodeOptions.length);
  assert.ok(!script!.startsWith(repo), `${script} runs from the installed prefix, not the repository`);
  return launch(script!, args, env, nodeOptions);
}

type Ran = { code: number | null; out: string; err: string; json?: Obj };

/** Run one of the wrappers the formula put in bin_dir. */
function wrapper(rig: Rig, id: string, cmd: string, args: string[]): Ran {
  const bin = join(hostRoot(rig, id), 'usr/local/bin', cmd);
  const r = spawnSync(bin, args, { encoding: 'utf8', env: rig.env, timeout: 240_000 });
  let json: Obj | undefined;
  try {
    json = JSON.parse(r.stdout) as Obj;
  } catch {
    /* not JSON */
  }
  return { code: r.status, out: r.stdout, err: r.stderr, json };
}

describe('real Salt: the formula installs a working conductor/router pair (ssr_recovery, orch, clean)', function () {
  this.timeout(600_000);
  let rig: Rig;
  let agentsPort: number;
  const daemons: Proc[] = [];
  const pillars: Record<string, Obj> = {};

  before(async () => {
    const staging = join(repo, '.bench', `salt-install-${process.pid}`);
    rmSync(staging, { recursive: true, force: true });
    const built = spawnSync(process.execPath, ['scripts/release.mjs', '--out', staging], {
      cwd: repo,
      encoding: 'utf8',
    });
    assert.equal(built.status, 0, built.stderr);
    // This package's loopback range (127.6.0.0/16), free ports chosen by the rig.
    rig = await startRig({
      minions: ['conductor', ...ROUTERS],
      addr: `127.6.${randomInt(0, 256)}.${randomInt(1, 255)}`,
      masterExtra: `file_roots: {base: [${join(staging, 'salt')}]}\n`,
    });
    // The conductor's minion carries the SSR role grain (reference/ssr.md §3.5); init.sls picks by it.
    const g = await rig.saltCall('conductor', ['grains.setval', '128t_role', 'conductor']);
    assert.equal(g.code, 0, g.stderr);
    agentsPort = await freePort(rig.addr);
    pillars.conductor = pillarFor(rig, 'conductor', agentsPort);
    for (const id of ROUTERS) pillars[id] = pillarFor(rig, id, agentsPort);
    writePillars(rig, pillars);
    process.once('exit', () => rmSync(staging, { recursive: true, force: true }));
  });
  after(async () => {
    for (const d of daemons) if (d.child.exitCode === null) d.child.kill('SIGTERM');
    await Promise.all(daemons.map((d) => d.exit));
    await rig?.stop();
  });

  it('real Salt renders every .sls as the npm test renderer does', async () => {
    const pillar = pillars.conductor!;
    const data = { id: 'router-1', act: 'pend', pub: 'k', result: true };
    const jobs = allSls().map((path) =>
      path.startsWith('reactor/')
        ? { path, context: { data, tag: 'salt/auth' } }
        : { path, pillar, grains: { '128t_role': 'conductor' } },
    );
    const mine = render(jobs);
    for (const [i, job] of jobs.entries()) {
      const extra = job.path.startsWith('reactor/') ? [`data=${JSON.stringify(data)}`, 'tag=salt/auth'] : [];
      const r = await rig.saltCall('conductor', ['slsutil.renderer', `salt://${job.path}`, ...extra, '--out=json']);
      assert.equal(r.code, 0, `${job.path}: ${r.stderr}`);
      const real = (JSON.parse(r.stdout) as { local: unknown }).local;
      assert.deepEqual(parseSls(mine[i]!.text ?? mine[i]!.error!), real ?? {}, job.path);
    }
  });

  it('ssr_recovery.conductor applies, and the installed conductor-agent runs with a plain node', async () => {
    await apply(rig, 'conductor', 'ssr_recovery.conductor');
    const h = hostRoot(rig, 'conductor');
    assert.ok(existsSync(join(h, 'opt/ssr-recovery/dist/conductor-agent/bundle/conductor-agent.js')));
    assert.ok(existsSync(join(h, 'etc/systemd/system/conductor-agent.service')));
    assert.ok(!existsSync(join(h, 'opt/ssr-recovery/node_modules')));
    const v = wrapper(rig, 'conductor', 'conductor-agent', ['--version']);
    assert.equal(v.code, 0, v.err);
  });

  it('the installed daemons start from the installed units; the router agents enroll', async () => {
    const h = hostRoot(rig, 'conductor');
    const conductor = startUnit(join(h, 'etc/systemd/system/conductor-agent.service'), rig.env);
    daemons.push(conductor);
    const cfg = ['--config', join(h, 'etc/ssr-recovery/conductor-agent.yaml')];
    let pins: Pins | undefined;
    await until(
      'the conductor-agent key and certificate',
      () => {
        const s = wrapper(rig, 'conductor', 'conductor-agent', ['keys', 'status', '--json', ...cfg]);
        pins = (s.json as { agent?: typeof pins } | undefined)?.agent;
        return Boolean(pins?.agentPublicKey && pins.certFingerprint);
      },
      60_000,
      conductor,
    );
    for (const id of ROUTERS) pillars[id] = pillarFor(rig, id, agentsPort, pins);
    writePillars(rig, pillars);
    await apply(rig, ROUTERS.join(','), 'ssr_recovery.router');
    for (const id of ROUTERS) {
      const conductorPart = join(hostRoot(rig, id), 'opt/ssr-recovery/dist/conductor-agent');
      assert.ok(!existsSync(conductorPart), 'nothing of the conductor on a router');
      daemons.push(startUnit(join(hostRoot(rig, id), 'etc/systemd/system/router-agent.service'), rig.env));
    }
    await until(
      'both router agents enrolled (their keys in the registry) and connected',
      () => {
        const f = wrapper(rig, 'conductor', 'conductor-agent', ['fleet', '--json', ...cfg]);
        const routers = (f.json?.routers ?? []) as { routerId: string; enrolled: boolean; connected: boolean }[];
        return ROUTERS.every((id) => routers.some((r) => r.routerId === id && r.enrolled && r.connected));
      },
      120_000,
      conductor,
    );
  });

  it('after a master-key loss, conductor-agent reauth via the installed pair re-authenticates a router', async () => {
    const pki = join(rig.root, 'etc/128technology/salt/pki/master');
    await rig.stopMaster();
    rmSync(join(pki, 'master.pem'));
    rmSync(join(pki, 'master.pub'));
    await rig.startMaster();
    const cfg = ['--config', join(hostRoot(rig, 'conductor'), 'etc/ssr-recovery/conductor-agent.yaml')];
    const r = wrapper(rig, 'conductor', 'conductor-agent', ['reauth', '--router', 'router-1', '--json', ...cfg]);
    assert.equal(r.code, 0, `${r.out}\n${r.err}`);
    await rig.waitPing(['router-1'], 120_000);
  });

  it('salt-run state.orch orch.reauth re-authenticates the other router', async () => {
    // The conductor's own minion talks to its local master: the operator re-trusts it on the box.
    await rig.stopMinion('conductor');
    rmSync(join(rig.minionRoot('conductor'), 'etc/salt/pki/minion/minion_master.pub'), { force: true });
    await rig.startMinion('conductor');
    await rig.waitPing(['conductor'], 120_000);
    const pillar = JSON.stringify({
      ssr_recovery: pillars.conductor!.ssr_recovery,
      ssr_recovery_reauth: { routers: ['router-2'], tgt: 'conductor', tgt_type: 'glob' },
    });
    const r = await rig.saltRun(['state.orch', 'orch.reauth', `pillar=${pillar}`, '--out=json'], 300_000);
    const doc = JSON.parse(r.stdout || '{}') as { data?: Record<string, Record<string, Obj>> };
    const states = Object.values(doc.data ?? {})[0] ?? {};
    const failed = Object.entries(states).filter(([, s]) => s.result !== true);
    assert.deepEqual(failed, [], `${r.stdout}\n${r.stderr}`);
    await rig.waitPing(['router-2'], 120_000);
  });

  it('clean.sls removes everything it installed and keeps the state folders', async () => {
    for (const d of daemons) if (d.child.exitCode === null) d.child.kill('SIGTERM');
    await Promise.all(daemons.map((d) => d.exit));
    // Salt must reach every host to clean it: a router a failed test above left untrusting is
    // re-trusted by hand here (that failure is reported by its own test).
    for (const id of ROUTERS) {
      if ((await rig.ping([id], 10)).length) continue;
      await rig.stopMinion(id);
      rmSync(join(rig.minionRoot(id), 'etc/salt/pki/minion/minion_master.pub'), { force: true });
      await rig.startMinion(id);
    }
    await rig.waitPing(['conductor', ...ROUTERS], 120_000);
    await apply(rig, ['conductor', ...ROUTERS].join(','), 'ssr_recovery.clean');
    for (const id of ['conductor', ...ROUTERS]) {
      const h = hostRoot(rig, id);
      for (const gone of [
        'opt/ssr-recovery',
        'usr/local/bin/conductor-agent',
        'usr/local/bin/router-agent',
        'etc/systemd/system/conductor-agent.service',
        'etc/systemd/system/router-agent.service',
        'etc/ssr-recovery/conductor-agent.yaml',
        'etc/ssr-recovery/router-agent.yaml',
      ]) {
        assert.ok(!existsSync(join(h, gone)), `${id}: ${gone} removed`);
      }
    }
    const kept = (id: string, path: string) => existsSync(join(hostRoot(rig, id), path));
    assert.ok(kept('conductor', 'var/lib/ssr-recovery'), 'conductor state (keys, registry) kept');
    for (const id of ROUTERS) assert.ok(kept(id, 'var/lib/ssr-recovery-router'), `${id} agent key kept`);
  });
});
