// The fleet wave against real parts on loopback: the Salt master simulator and salt-api emulator
// (real key files), the conductor-agent's wss server, real router agents driving simulated
// minion processes. The conductor is rebuilt with a new master key and WITHOUT its minion keys,
// so every returning minion is held pending: the key gate must accept exactly the keys the agents
// reported, leave a foreign key pending (possible impostor), and count a router done only when it
// answers test.ping through salt-api.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { pemFinger, pemFingerFile } from '../../shared/salt/fingerprint.js';
import { systemClock } from '../../shared/ports/clock.js';
import { systemRandom } from '../../shared/ports/random.js';
import { reauthRouter } from '../../conductor-agent/reauth/single.js';
import { createSaltApiClient } from '../../conductor-agent/saltapi/client.js';
import { saltApiMinionProbe } from '../../conductor-agent/keys/minion-probe.js';
import { pkiKeyGate } from '../../conductor-agent/fleet/key-gate.js';
import { fleetReauth, type FleetReauthOptions } from '../../conductor-agent/fleet/wave.js';
import { waveExitCode } from '../../conductor-agent/fleet/report.js';
import type { AgentChannel } from '../../conductor-agent/fleet/ports.js';
import { startSaltSandbox, type SaltSandbox } from '../../sandbox/saltapi-emulator/sandbox.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { startConductorSide, startSimRouterWithAgent, until, type ConductorSide } from '../helpers/agents.js';

describe('integration: fleet reauth wave (agents, key gate, test.ping)', function () {
  this.timeout(240_000);
  let root: string;
  let cleanup: () => Promise<void>;
  let sb: SaltSandbox;
  let conductor: ConductorSide;
  const closers: Array<() => Promise<unknown> | unknown> = [];
  const ids = ['edge-1', 'edge-2', 'edge-3'];

  before(async () => {
    ({ dir: root, cleanup } = await makeTmpDir());
    sb = await startSaltSandbox({
      root: join(root, 'conductor'),
      host: '127.7.0.2',
      masterConfig: { auto_accept: true },
    });
    conductor = await startConductorSide(root, {
      host: '127.7.0.2',
      masterFingerprint: () => pemFingerFile(join(sb.pkiDir, 'master.pub')),
    });
    for (const id of ids) {
      const r = await startSimRouterWithAgent({
        dir: join(root, id),
        id,
        master: sb.master,
        conductor,
        settings: { reauthTimeoutMs: 20_000, settleMs: 300, pollMs: 100, confirmPollMs: 50 },
      });
      closers.push(() => r.close());
    }
    await until(
      () =>
        ids.every((id) => conductor.server.fleet().find((e) => e.routerId === id)?.trustFacts?.minionKeyFingerprint),
      20_000,
      'agents reported',
    );
    // Disaster: rebuilt with a new master key and without the minion keys; nothing auto-accepted.
    await fsp.rm(join(sb.pkiDir, 'minions'), { recursive: true, force: true });
    await fsp.mkdir(join(sb.pkiDir, 'minions'), { recursive: true });
    const cfg = sb.masterConfigFile;
    await fsp.writeFile(cfg, (await fsp.readFile(cfg, 'utf8')).replace(/auto_accept: true/, 'auto_accept: false'));
    await sb.master.pki.writeKeyPair('master');
    await sb.master.restart();
    // Each minion now either refuses the new key (stale) or is held pending by the rebuilt master.
    const pending = async (id: string): Promise<boolean> =>
      fsp.access(join(sb.pkiDir, 'minions_pre', id)).then(
        () => true,
        () => false,
      );
    await until(
      async () => {
        for (const id of ids) {
          const stale = conductor.server.fleet().find((e) => e.routerId === id)?.trust === 'stale-master-key';
          if (!stale && !(await pending(id))) return false;
        }
        return true;
      },
      90_000,
      'every minion stale or pending',
    );
  });
  after(async () => {
    for (const c of closers.splice(0).reverse()) await c();
    await conductor.server.close();
    await sb.close();
    await cleanup();
  });

  function options(over: Partial<FleetReauthOptions>): FleetReauthOptions {
    const client = createSaltApiClient({ url: sb.url, username: sb.username, password: sb.secret, eauth: sb.eauth });
    const agent: AgentChannel = {
      async reauth(routerId, fingerprint, timeoutMs) {
        const r = await reauthRouter({ server: conductor.server, routerId, fingerprint, routerTimeoutMs: timeoutMs });
        return {
          ok: r.ok,
          code: r.outcome.code,
          message: r.outcome.message,
          evidence: r.outcome.evidence,
          timings: r.outcome.timings,
        };
      },
    };
    return {
      selection: { all: true },
      resume: false,
      dryRun: false,
      rate: 0,
      concurrency: 10,
      routerTimeoutMs: 20_000,
      verifyTimeoutMs: 20_000,
      acceptNewHostKeys: false,
      conductor: { id: 'conductor-test' },
      masterFingerprint: '',
      pkiDir: sb.pkiDir,
      journalDir: join(root, 'conductor/var/lib/ssr-recovery-reauth'),
      random: systemRandom,
      sources: {
        fleet: async () => conductor.server.fleet(),
        reported: async () => new Map(),
        sshRoutes: async () => new Map(),
      },
      ports: {
        agent,
        gate: pkiKeyGate(sb.pkiDir),
        pinger: saltApiMinionProbe(client, { timeoutSeconds: 2 }),
        clock: systemClock,
      },
      ...over,
    };
  }

  it('plans, gates and confirms: matching keys accepted, a foreign pending key left pending as a possible impostor', async () => {
    const masterFingerprint = await pemFingerFile(join(sb.pkiDir, 'master.pub'));
    // An attacker got a key into minions_pre under edge-3's id before the real minion retried.
    const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    await fsp.mkdir(join(sb.pkiDir, 'minions_pre'), { recursive: true });
    await fsp.writeFile(join(sb.pkiDir, 'minions_pre/edge-3'), foreign);

    const plan = await fleetReauth(options({ masterFingerprint, dryRun: true }));
    assert.deepEqual(
      plan.plan!.map((p) => [p.routerId, p.action, p.channel]),
      [
        ['edge-1', 'reauth', 'agent'],
        ['edge-2', 'reauth', 'agent'],
        ['edge-3', 'blocked', 'none'],
      ],
    );
    assert.equal(plan.plan![2]!.blocked, 'impostor');
    assert.deepEqual(await fsp.readdir(join(sb.pkiDir, 'minions')), [], 'a dry run accepts nothing');

    const report = await fleetReauth(options({ masterFingerprint }));
    const by = new Map(report.routers.map((r) => [r.routerId, r]));
    assert.equal(by.get('edge-1')!.state, 'done', JSON.stringify(by.get('edge-1')));
    assert.equal(by.get('edge-2')!.state, 'done', JSON.stringify(by.get('edge-2')));
    assert.equal(by.get('edge-3')!.state, 'impostor');
    assert.equal(by.get('edge-3')!.code, 'FLEET_KEY_MISMATCH');
    assert.equal(waveExitCode(report.totals), 5);
    assert.equal(report.conductor.id, 'conductor-test');
    // The accepted bytes are the keys the agents reported; the foreign one is still pending.
    for (const id of ['edge-1', 'edge-2']) {
      const reported = conductor.server.fleet().find((e) => e.routerId === id)!.trustFacts!.minionKeyFingerprint;
      assert.equal(pemFinger(await fsp.readFile(join(sb.pkiDir, 'minions', id), 'utf8')), reported);
    }
    assert.equal(await fsp.readFile(join(sb.pkiDir, 'minions_pre/edge-3'), 'utf8'), foreign);
    assert.ok(
      by.get('edge-1')!.timings!.keyAccepted! >= 0 &&
        by.get('edge-1')!.timings!.pinged! >= by.get('edge-1')!.timings!.keyAccepted!,
    );
  });

  it('a re-run is idempotent and --resume retries only what is not done', async () => {
    const masterFingerprint = await pemFingerFile(join(sb.pkiDir, 'master.pub'));
    const resumed = await fleetReauth(options({ masterFingerprint, resume: true, selection: undefined }));
    assert.equal(resumed.resumed, true);
    const by = new Map(resumed.routers.map((r) => [r.routerId, r.state]));
    assert.equal(by.get('edge-1'), 'done');
    assert.equal(by.get('edge-3'), 'impostor', 'still refused');
    // The operator removes the foreign key and the real minion's key that Salt denied because of it
    // (`salt-key -d edge-3`); the real key comes back pending and matches its agent's report.
    await fsp.rm(join(sb.pkiDir, 'minions_pre/edge-3'));
    await fsp.rm(join(sb.pkiDir, 'minions_denied/edge-3'), { force: true });
    const again = await fleetReauth(options({ masterFingerprint }));
    const states = new Map(again.routers.map((r) => [r.routerId, r.state]));
    assert.equal(states.get('edge-1'), 'skipped', 'already answers test.ping');
    assert.equal(states.get('edge-3'), 'done', JSON.stringify(again.routers.find((r) => r.routerId === 'edge-3')));
    assert.equal(waveExitCode(again.totals), 0);
  });
});
