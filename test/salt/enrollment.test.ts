// Real Salt 3006.18 (issue 9 B): root on router-2 sends a *batched* event whose entry names router-3;
// the real master fires it verbatim on /events with id router-3 and cmd _minion_event. Our listener
// refuses it (the statement does not verify with router-3's accepted minion key, or carries none),
// while each router's own announcement, signed with its minion.pem through the real salt-call, is
// accepted. A changed agent key then waits for `fleet --approve ROUTER --fingerprint FP`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nullLogger, type Logger } from '../../shared/log/logger.js';
import { systemClock } from '../../shared/ports/clock.js';
import { systemRandom } from '../../shared/ports/random.js';
import { splitCommandLine, systemProcessRunner } from '../../shared/ports/process-runner.js';
import { ENROLL_TAG } from '../../shared/protocol/enroll.js';
import { generateSigningKeyPair, keyFingerprint } from '../../shared/protocol/signing-keys.js';
import { SaltApiClient } from '../../conductor-agent/saltapi/client.js';
import { openSaltEvents, type SaltEventStream } from '../../conductor-agent/saltapi/events.js';
import { AgentRegistry } from '../../conductor-agent/registry/store.js';
import { runEnrollListener } from '../../conductor-agent/registry/enroll-listener.js';
import { registryLockPath } from '../../conductor-agent/ws/service.js';
import { announceKey, buildEnrollPayload } from '../../router-agent/enroll.js';
import { startRig, type Rig } from './rig.js';
import { cli, conductorBin, until } from './support.js';

describe('real Salt: enrollment bound to the minion key (forged batched events refused)', () => {
  let rig: Rig;
  let client: SaltApiClient;
  let stream: SaltEventStream;
  let watch: SaltEventStream;
  let registry: AgentRegistry;
  let listening: Promise<void>;
  const refusals: Record<string, unknown>[] = [];
  const onBus: Record<string, unknown>[] = [];
  const logger: Logger = {
    ...nullLogger,
    child: () => logger,
    warn: (m, f) => {
      if (m.startsWith('refused')) refusals.push({ ...f });
    },
  };
  const ports = { clock: systemClock, random: systemRandom, agentVersion: 'test' };
  const minionPki = (id: string): string => join(rig.minionRoot(id), 'etc/salt/pki/minion');
  const announce = (id: string, agentPublicKey: string) =>
    announceKey({
      runner: systemProcessRunner,
      saltCall: rig.saltCallCommand(id),
      minionId: id,
      pkiDir: minionPki(id),
      agentPublicKey,
      ...ports,
      timeoutMs: 90_000,
    });

  before(async () => {
    rig = await startRig({ minions: 3 });
    const password = readFileSync(rig.apiPasswordFile, 'utf8');
    client = new SaltApiClient({ url: rig.apiUrl, username: rig.apiUser, password, eauth: 'sharedsecret' });
    const path = (p: string): string => join(rig.root, p);
    registry = await AgentRegistry.open(path('/var/lib/ssr-recovery'), {
      lockFile: registryLockPath(path),
      flushDelayMs: 5,
    });
    stream = openSaltEvents(client, { tags: [ENROLL_TAG] });
    watch = openSaltEvents(client, { tags: [ENROLL_TAG] });
    await until('both /events streams to open', () => stream.opens >= 1 && watch.opens >= 1, 30_000);
    listening = runEnrollListener(stream, { registry, logger, pkiDir: path('/etc/128technology/salt/pki/master') });
    void (async () => {
      for await (const ev of watch) onBus.push(ev.raw.data as Record<string, unknown>);
    })().catch(() => undefined);
  });
  after(async () => {
    stream?.close();
    watch?.close();
    await listening?.catch(() => undefined);
    await client?.close();
    await rig?.stop();
  });

  it('a genuine announcement through the real salt-call is enrolled (and shows in conductor-agent fleet --json)', async () => {
    const key = generateSigningKeyPair();
    const r = await announce('router-1', key.publicPem);
    assert.equal(r.ok, true, r.detail);
    await until(
      'router-1 enrolled',
      async () => {
        await registry.refresh();
        return registry.get('router-1') !== undefined;
      },
      60_000,
    );
    assert.equal(registry.get('router-1')!.fingerprint, keyFingerprint(key.publicPem));
    const f = await cli(conductorBin, ['fleet', '--json', '--root', rig.root], rig.env);
    assert.equal(f.code, 0, f.err);
    const routers = f.json!.routers as Array<{ routerId: string; enrolled: boolean }>;
    assert.deepEqual(
      routers.map((e) => [e.routerId, e.enrolled]),
      [['router-1', true]],
    );
  });

  it("a batched event from router-2 naming router-3 reaches /events as router-3's and is refused; router-3 still enrolls itself", async () => {
    const attacker = generateSigningKeyPair().publicPem;
    const signedByRouter2 = await buildEnrollPayload({
      minionId: 'router-3',
      pkiDir: minionPki('router-2'),
      agentPublicKey: attacker,
      ...ports,
    });
    const unsigned = { agentPublicKey: attacker, agentKeyFingerprint: keyFingerprint(attacker), agentVersion: 'evil' };
    const events = [signedByRouter2, unsigned].map((data) => ({
      tag: ENROLL_TAG,
      data: { id: 'router-3', cmd: '_minion_event', data },
    }));
    const mark = refusals.length;
    const r = await systemProcessRunner.run(
      [
        ...splitCommandLine(rig.saltCallCommand('router-2')),
        'event.send',
        'ignored',
        '{}',
        `preload=${JSON.stringify({ events })}`,
      ],
      { timeoutMs: 90_000, env: rig.env },
    );
    assert.equal(r.code, 0, r.stderr);
    const mine = (): Record<string, unknown>[] => refusals.slice(mark).filter((x) => x.router === 'router-3');
    await until('both forgeries refused', () => mine().length >= 2, 60_000);
    assert.deepEqual(
      mine()
        .map((x) => x.reason)
        .sort(),
      ['bad-signature', 'unsigned'],
    );
    const forged = onBus.filter((d) => d.id === 'router-3');
    assert.ok(forged.length >= 2, 'the real master fired the entries verbatim, with the id the sender wrote');
    assert.ok(
      forged.every((d) => d.cmd === '_minion_event'),
      'and the cmd the sender wrote',
    );
    await registry.refresh();
    assert.equal(registry.get('router-3'), undefined, 'nothing enrolled under router-3');

    const own = generateSigningKeyPair();
    const ok = await announce('router-3', own.publicPem);
    assert.equal(ok.ok, true, ok.detail);
    await until(
      'router-3 enrolled by its own minion key',
      async () => {
        await registry.refresh();
        return registry.get('router-3') !== undefined;
      },
      60_000,
    );
    assert.equal(registry.get('router-3')!.fingerprint, keyFingerprint(own.publicPem));
  });

  it('a changed agent key waits for approval, and fleet --approve needs its fingerprint', async () => {
    const next = generateSigningKeyPair();
    const before = registry.get('router-1')!.fingerprint;
    const r = await announce('router-1', next.publicPem);
    assert.equal(r.ok, true, r.detail);
    await until(
      'pending key',
      async () => {
        await registry.refresh();
        return registry.get('router-1')?.pending !== undefined;
      },
      60_000,
    );
    assert.equal(registry.get('router-1')!.fingerprint, before);
    let a = await cli(conductorBin, ['fleet', '--json', '--root', rig.root, '--approve', 'router-1'], rig.env);
    assert.equal(a.code, 2, 'usage error without --fingerprint');
    a = await cli(
      conductorBin,
      ['fleet', '--json', '--root', rig.root, '--approve', 'router-1', '--fingerprint', keyFingerprint(next.publicPem)],
      rig.env,
    );
    assert.equal(a.code, 0, a.err);
    await registry.refresh();
    assert.equal(registry.get('router-1')!.fingerprint, keyFingerprint(next.publicPem));
  });
});
