// The SSH fallback against real OpenSSH sshd processes on loopback (several addresses, one reached
// through a fake SSR nodeIdentifier map): the agent's steps from fixed templates, host keys pinned
// (a wrong one refused before authentication), auth failure, a failing step with its output as
// evidence, and a host that hangs (its budget ends it; the other host in the wave is not held).
// The router's minion here is a small service script: `start` caches the master key it would
// authenticate to, as a pinned minion that authenticated does (the minion itself is exercised
// against the simulator in fleet-reauth.test.ts).
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { pemFinger } from '../../shared/salt/fingerprint.js';
import { systemClock } from '../../shared/ports/clock.js';
import { nullLogger } from '../../shared/log/logger.js';
import { parseNodeIdentifier } from '../../conductor-agent/ssh/node-identifier.js';
import { parseInventory } from '../../conductor-agent/ssh/inventory.js';
import { buildSshRoutes } from '../../conductor-agent/ssh/routes.js';
import { sshReauthChannel, PIN_DROP_IN } from '../../conductor-agent/ssh/steps.js';
import { runWave } from '../../conductor-agent/fleet/apply.js';
import { planWave } from '../../conductor-agent/fleet/plan.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

const rsaPub = (): string =>
  generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

/** A router tree + service script: start caches `master.pub` unless `refuse`, stop hangs if `hang-stop`. */
async function routerTree(dir: string, masterPub: string): Promise<{ root: string; svc: string }> {
  const root = join(dir, 'router');
  await fsp.mkdir(join(root, 'etc/salt/pki/minion'), { recursive: true });
  await fsp.writeFile(join(root, 'etc/salt/pki/minion/minion.pub'), rsaPub());
  await fsp.writeFile(join(root, 'etc/salt/pki/minion/minion_master.pub'), rsaPub()); // the stale key
  await fsp.writeFile(join(root, 'master.pub'), masterPub);
  const svc = join(root, 'minion-service');
  await fsp.writeFile(
    svc,
    [
      '#!/bin/sh',
      `R='${root}'`,
      'verb="$1"; [ "$verb" = is-active ] && { [ -e "$R/active" ]; exit $?; }',
      'case "$verb" in',
      '  stop) [ -e "$R/hang-stop" ] && sleep 600; rm -f "$R/active" ;;',
      '  start) [ -e "$R/fail-start" ] && { echo "Job for salt-minion.service failed" >&2; exit 1; }',
      '         touch "$R/active"; [ -e "$R/refuse" ] || cp "$R/master.pub" "$R/etc/salt/pki/minion/minion_master.pub" ;;',
      'esac',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  await fsp.writeFile(join(root, 'active'), '');
  return { root, svc };
}

describe('integration: SSH fallback against real sshd', function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let a: Sshd;
  let b: Sshd;
  const masterPub = rsaPub();
  const finger = pemFinger(masterPub);

  before(async () => {
    ({ dir, cleanup } = await makeTmpDir('ssr-fleet-ssh-'));
    a = await startSshd({ host: '127.7.1.1' });
    b = await startSshd({ host: '127.7.1.2' });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await cleanup();
  });

  async function setup(name: string, sshd: Sshd, extra: Record<string, unknown> = {}) {
    const t = await routerTree(join(dir, name), masterPub);
    const inv = parseInventory(
      JSON.stringify([
        {
          minion: name,
          user: sshd.username,
          keyFile: sshd.clientKeyFile,
          sudo: false,
          serviceCommand: t.svc,
          configDir: join(t.root, 'etc/salt'),
          pkiDir: join(t.root, 'etc/salt/pki/minion'),
          ...extra,
        },
      ]),
    );
    const channel = sshReauthChannel({
      inventory: inv,
      defaults: { user: 'root', sudo: false },
      clock: systemClock,
      logger: nullLogger,
      settleMs: 200,
      pollMs: 50,
    });
    return { t, inv, channel };
  }

  it('reaches a router through the nodeIdentifier tunnel map and runs the steps', async () => {
    const { t, inv, channel } = await setup('r1.site-a', a);
    const map = parseNodeIdentifier(`Host r1.site-a\n  HostName ${a.host}\n  Port ${a.port}\n  User t128\n`);
    const routes = buildSshRoutes({
      tunnels: map,
      inventory: inv,
      knownHosts: [],
      reportedHostKeys: new Map([['r1.site-a', [a.hostKeyFingerprint]]]),
      defaultUser: 't128',
    });
    const route = routes.get('r1.site-a')![0]!;
    assert.equal(route.channel, 'ssh-tunnel');
    assert.equal(route.hostKeySource, 'agent-report');
    const minionPub = await fsp.readFile(join(t.root, 'etc/salt/pki/minion/minion.pub'), 'utf8');
    const r = await channel.reauth('r1.site-a', route, finger, { timeoutMs: 20_000 });
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(
      r.minionKeyFingerprint,
      pemFinger(minionPub),
      'minion key read over the pinned session, for the key gate',
    );
    assert.match(
      await fsp.readFile(join(t.root, 'etc/salt/minion.d', PIN_DROP_IN), 'utf8'),
      new RegExp(`master_finger: '${finger}'`),
    );
    assert.equal(pemFinger(await fsp.readFile(join(t.root, 'etc/salt/pki/minion/minion_master.pub'), 'utf8')), finger);
    await fsp.access(join(t.root, 'etc/salt/pki/minion/minion_master.pub.ssr-recovery-stale'));
  });

  it('refuses a wrong host key before authenticating (SSH_HOST_KEY_MISMATCH) and leaves the router untouched', async () => {
    const { t, inv, channel } = await setup('r2', b, { host: b.host, port: b.port, hostKeys: [a.hostKeyFingerprint] });
    const route = buildSshRoutes({
      tunnels: [],
      inventory: inv,
      knownHosts: [],
      reportedHostKeys: new Map(),
      defaultUser: 't128',
    }).get('r2')![0]!;
    await assert.rejects(
      channel.reauth('r2', route, finger, { timeoutMs: 10_000 }),
      (e: { code?: string }) => e.code === 'SSH_HOST_KEY_MISMATCH',
    );
    await assert.rejects(fsp.access(join(t.root, 'etc/salt/minion.d', PIN_DROP_IN)));
  });

  it('reports an authentication failure as SSH_FAILED', async () => {
    const other = join(dir, 'wrong-key');
    assert.equal(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]).status, 0);
    const { inv, channel } = await setup('r3', b, {
      host: b.host,
      port: b.port,
      hostKeys: [b.hostKeyFingerprint],
      keyFile: other,
    });
    const route = buildSshRoutes({
      tunnels: [],
      inventory: inv,
      knownHosts: [],
      reportedHostKeys: new Map(),
      defaultUser: 't128',
    }).get('r3')![0]!;
    await assert.rejects(
      channel.reauth('r3', route, finger, { timeoutMs: 10_000 }),
      (e: { code?: string }) => e.code === 'SSH_FAILED',
    );
  });

  it('a failing step comes back with its output as evidence (SSH_COMMAND_FAILED)', async () => {
    const { t, inv, channel } = await setup('r4', b, { host: b.host, port: b.port, hostKeys: [b.hostKeyFingerprint] });
    await fsp.writeFile(join(t.root, 'fail-start'), '');
    const route = buildSshRoutes({
      tunnels: [],
      inventory: inv,
      knownHosts: [],
      reportedHostKeys: new Map(),
      defaultUser: 't128',
    }).get('r4')![0]!;
    const r = await channel.reauth('r4', route, finger, { timeoutMs: 10_000 });
    assert.equal(r.ok, false);
    assert.equal(r.code, 'SSH_COMMAND_FAILED');
    assert.ok(
      r.evidence!.some((l) => l.includes('Job for salt-minion.service failed')),
      JSON.stringify(r.evidence),
    );
  });

  it('a host that hangs ends at its budget and does not hold the rest of the wave', async () => {
    const hung = await setup('r5', a, { host: a.host, port: a.port, hostKeys: [a.hostKeyFingerprint] });
    await fsp.writeFile(join(hung.t.root, 'hang-stop'), '');
    const good = await setup('r6', b, { host: b.host, port: b.port, hostKeys: [b.hostKeyFingerprint] });
    const inventory = [...hung.inv, ...good.inv];
    const channel = sshReauthChannel({
      inventory,
      defaults: { user: 'root', sudo: false },
      clock: systemClock,
      logger: nullLogger,
      settleMs: 200,
      pollMs: 50,
    });
    const ssh = buildSshRoutes({
      tunnels: [],
      inventory,
      knownHosts: [],
      reportedHostKeys: new Map(),
      defaultUser: 't128',
    });
    const plan = planWave({
      masterFingerprint: finger,
      selection: { all: true },
      agents: [],
      reported: new Map(),
      keys: { accepted: ['r5', 'r6'], pending: [], rejected: [], denied: [] },
      pendingFingerprints: new Map(),
      answering: new Set(),
      ssh,
      acceptNewHostKeys: false,
    });
    const finished = new Map<string, number>();
    const result = await runWave({
      plan,
      rate: 0,
      concurrency: 2,
      routerTimeoutMs: 15_000,
      verifyTimeoutMs: 5_000,
      ports: {
        ssh: channel,
        gate: { check: async () => ({ state: 'none' }) },
        clock: systemClock,
        // Stands in for salt-api here: a router answers when its minion caches the pinned key.
        pinger: {
          ping: async (ids) => {
            const ok = new Set<string>();
            for (const id of ids) {
              const t = id === 'r5' ? hung.t : good.t;
              const text = await fsp
                .readFile(join(t.root, 'etc/salt/pki/minion/minion_master.pub'), 'utf8')
                .catch(() => '');
              if (text && pemFinger(text) === finger) ok.add(id);
            }
            return ok;
          },
        },
      },
      onOutcome: (o) => finished.set(o.routerId, Date.now()),
    });
    const by = new Map(result.outcomes.map((o) => [o.routerId, o]));
    assert.equal(by.get('r5')!.state, 'failed');
    assert.equal(by.get('r5')!.code, 'SSH_TIMEOUT');
    assert.equal(by.get('r6')!.state, 'done', JSON.stringify(by.get('r6')));
    assert.ok(finished.get('r6')! < finished.get('r5')!, 'the good host finished while the hung one was still hanging');
  });
});
