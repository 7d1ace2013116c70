/**
 * kill -9 at every step of the fleet re-authentication wave: the real CLI (`reauth --all`, dist/) is
 * forked with SSR_RECOVERY_REAUTH_FAULT naming the step after which it kills itself (shared/fault.ts):
 * the plan journalled, routers in flight, a key accepted by the gate, a router confirmed by test.ping
 * but not yet journalled, a journal entry written. The daemon's side (the wss server holding the router
 * agents, and its control socket) runs in this process, as the daemon would beside the CLI; the Salt
 * master simulator, salt-api emulator and real router agents driving simulated minion processes run on
 * 127.24.2.1. Then `reauth --resume` must finish: every router answering test.ping on the new key, its
 * own key accepted (nothing else), nothing pending, and routers the journal already had done not
 * commanded again.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { reauthRouter } from '../../conductor-agent/reauth/single.js';
import { startControlServer, type ControlServer } from '../../conductor-agent/ws/control.js';
import { pemFinger, pemFingerFile } from '../../shared/salt/fingerprint.js';
import { startSaltSandbox, type SaltSandbox } from '../../sandbox/saltapi-emulator/sandbox.js';
import { startConductorSide, startSimRouterWithAgent, until, type ConductorSide } from '../helpers/agents.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { docOf, forkCli, leftoverTemps } from './fork-cli.js';

const HOST = '127.24.2.1';
const IDS = ['edge-1', 'edge-2'];
const FAULTS = ['wave/planned', 'wave/started:2', 'wave/key-accepted:1', 'wave/verified:1', 'wave/recorded:1'];

interface Outcome {
  routerId: string;
  state: string;
  startedAt?: string;
}

describe('fleet re-auth wave killed with SIGKILL at every step, then --resume', function () {
  this.timeout(300_000);
  let tmp: string;
  let root: string;
  let cleanup: () => Promise<void>;
  let sb: SaltSandbox;
  let conductor: ConductorSide;
  let control: ControlServer;
  const commanded = new Map<string, number>();
  const closers: Array<() => Promise<unknown> | unknown> = [];
  const journalDir = (): string => join(root, 'var/lib/ssr-recovery-reauth');
  const reauth = (args: string[], env: Record<string, string> = {}) =>
    forkCli(['--root', root, '--json', 'reauth', ...args], env);
  const exists = (p: string): Promise<boolean> =>
    fsp.access(p).then(
      () => true,
      () => false,
    );

  /** The disaster: a new master key and no minion keys; wait until every minion is stale or held pending. */
  async function loseTheMasterKey(): Promise<void> {
    for (const d of ['minions', 'minions_pre', 'minions_denied']) {
      await fsp.rm(join(sb.pkiDir, d), { recursive: true, force: true });
      await fsp.mkdir(join(sb.pkiDir, d), { recursive: true });
    }
    await sb.master.pki.writeKeyPair('master');
    await sb.master.restart();
    await until(
      async () => {
        for (const id of IDS) {
          const stale = conductor.server.fleet().find((e) => e.routerId === id)?.trust === 'stale-master-key';
          if (!stale && !(await exists(join(sb.pkiDir, 'minions_pre', id)))) return false;
        }
        return true;
      },
      90_000,
      'every minion stale or pending',
    );
  }

  before(async () => {
    ({ dir: tmp, cleanup } = await makeTmpDir('ssr-fleet-kill-'));
    root = join(tmp, 'conductor');
    sb = await startSaltSandbox({ root, host: HOST, masterConfig: { auto_accept: true } });
    conductor = await startConductorSide(tmp, {
      host: HOST,
      masterFingerprint: () => pemFingerFile(join(sb.pkiDir, 'master.pub')),
    });
    // What the daemon answers the CLI on its control socket (conductor-agent/ws/service.ts).
    await fsp.mkdir(join(root, 'run/ssr-recovery'), { recursive: true, mode: 0o700 });
    control = await startControlServer(join(root, 'run/ssr-recovery/conductor-agent.sock'), {
      fleet: async () => conductor.server.fleet(),
      reauth: async (a) => {
        const id = String(a.router);
        commanded.set(id, (commanded.get(id) ?? 0) + 1);
        return reauthRouter({
          server: conductor.server,
          routerId: id,
          fingerprint: String(a.fingerprint),
          routerTimeoutMs: Number(a.timeoutMs),
        });
      },
    });
    await fsp.writeFile(
      join(root, 'etc/ssr-recovery/conductor-agent.yaml'),
      stringify({
        saltApi: {
          url: sb.url,
          eauth: sb.eauth,
          username: sb.username,
          passwordFile: '/etc/ssr-recovery/salt-api.secret',
        },
        // The router time outlasts a killed run's command still held on the router (LOCK_HELD until it ends).
        reauth: { rate: 0, concurrency: 10, routerTimeoutSeconds: 90, verifyTimeoutSeconds: 30 },
      }),
    );
    for (const id of IDS) {
      const r = await startSimRouterWithAgent({
        dir: join(tmp, id),
        id,
        master: sb.master,
        conductor,
        settings: { reauthTimeoutMs: 10_000, settleMs: 300, pollMs: 100, confirmPollMs: 50 },
      });
      closers.push(() => r.close());
    }
    await conductor.registry.flush();
    await until(
      () =>
        IDS.every((id) => conductor.server.fleet().find((e) => e.routerId === id)?.trustFacts?.minionKeyFingerprint),
      30_000,
      'agents reported',
    );
    const cfg = sb.masterConfigFile;
    await fsp.writeFile(cfg, (await fsp.readFile(cfg, 'utf8')).replace(/auto_accept: true/, 'auto_accept: false'));
  });
  after(async () => {
    for (const c of closers.splice(0).reverse()) await c();
    await control?.close();
    await conductor?.server.close();
    await sb?.close();
    await cleanup?.();
  });

  for (const fault of FAULTS) {
    it(`kill -9 after ${fault}: --resume retries only what is not done and loses nothing`, async () => {
      await loseTheMasterKey();
      commanded.clear();
      const killed = await reauth(['--all'], { SSR_RECOVERY_REAUTH_FAULT: fault });
      assert.equal(killed.signal, 'SIGKILL', `not killed: exit ${killed.code} ${killed.err.slice(-1500)}`);
      const journalled = await journalledDone();
      const before = new Map(commanded);
      const resumed = await reauth(['--resume']);
      assert.equal(resumed.code, 0, `${resumed.out.slice(0, 3000)} ${resumed.err.slice(-1500)}`);
      const report = docOf<{ ok: boolean; resumed: boolean; routers: Outcome[] }>(resumed);
      assert.equal(report.ok, true);
      assert.equal(report.resumed, true);
      for (const r of report.routers) {
        assert.ok(r.state === 'done' || r.state === 'skipped', `${r.routerId}: ${JSON.stringify(r)}`);
        const prior = journalled.get(r.routerId);
        if (prior) {
          assert.equal(r.state, 'done');
          assert.equal(r.startedAt, prior.startedAt, `${r.routerId} comes from the journal`);
          assert.equal(commanded.get(r.routerId), before.get(r.routerId), `${r.routerId} is not commanded again`);
        }
      }
      await assertNothingLost();
    });
  }

  async function journalledDone(): Promise<Map<string, Outcome>> {
    const text = await fsp.readFile(join(journalDir(), 'outcomes.jsonl'), 'utf8').catch(() => '');
    const out = new Map<string, Outcome>();
    for (const line of text.split('\n')) {
      try {
        const o = JSON.parse(line) as Outcome;
        if (o.state === 'done') out.set(o.routerId, o);
      } catch {
        /* a torn last line */
      }
    }
    return out;
  }

  async function assertNothingLost(): Promise<void> {
    assert.deepEqual(await fsp.readdir(join(sb.pkiDir, 'minions_pre')), [], 'no key left pending');
    assert.deepEqual((await fsp.readdir(join(sb.pkiDir, 'minions'))).sort(), IDS, 'every router accepted');
    for (const id of IDS) {
      const reported = conductor.server.fleet().find((e) => e.routerId === id)!.trustFacts!.minionKeyFingerprint;
      assert.equal(pemFinger(await fsp.readFile(join(sb.pkiDir, 'minions', id), 'utf8')), reported, id);
    }
    const fp = await pemFingerFile(join(sb.pkiDir, 'master.pub'));
    await until(
      () => IDS.every((id) => conductor.server.fleet().find((e) => e.routerId === id)?.trust === 'trusted'),
      30_000,
      `every router trusts ${fp}`,
    );
    const header = JSON.parse(await fsp.readFile(join(journalDir(), 'wave.json'), 'utf8')) as { finishedAt?: string };
    assert.ok(header.finishedAt, 'the resumed wave is marked finished');
    assert.deepEqual(await leftoverTemps(journalDir()), []);
  }
});
