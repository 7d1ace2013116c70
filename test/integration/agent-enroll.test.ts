// Enrollment over Salt through the salt-api emulator's /events stream: the router agent announces
// its key with salt-call (the stand-in authenticates like the minion), signed with its minion.pem,
// and the conductor side records it only when the signature verifies with the accepted minion key.
// A changed key waits for approval; an event not fired by a minion is ignored; a batched event from
// another minion naming this router (fired verbatim by the master, as real Salt does) is refused;
// a minion that no longer trusts the master cannot enroll at all.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { nullLogger } from '../../shared/log/logger.js';
import { commandServiceControl } from '../../shared/ports/service-control.js';
import { ENROLL_TAG } from '../../shared/protocol/enroll.js';
import { generateSigningKeyPair } from '../../shared/protocol/signing-keys.js';
import { SaltApiClient } from '../../conductor-agent/saltapi/client.js';
import { openSaltEvents } from '../../conductor-agent/saltapi/events.js';
import { AgentRegistry } from '../../conductor-agent/registry/store.js';
import { runEnrollListener } from '../../conductor-agent/registry/enroll-listener.js';
import { announceKey } from '../../router-agent/enroll.js';
import { splitCommandLine, systemProcessRunner } from '../../shared/ports/process-runner.js';
import { systemClock } from '../../shared/ports/clock.js';
import { systemRandom } from '../../shared/ports/random.js';
import type { Logger } from '../../shared/log/logger.js';
import { buildEnrollPayload } from '../../router-agent/enroll.js';
import { startSaltSandbox, type SaltSandbox } from '../../sandbox/saltapi-emulator/sandbox.js';
import { writeSimRouter } from '../../sandbox/salt/minion-setup.js';
import { minionServiceCommands } from '../../sandbox/salt/minion-service.js';
import { fixtureCommandLine } from '../../sandbox/salt/entry.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { routerFacts, startRouter, until } from '../helpers/agents.js';

describe('integration: router-agent enrollment through salt-api /events', function () {
  this.timeout(60_000);
  let root: string;
  let cleanup: () => Promise<void>;
  let sb: SaltSandbox;
  const closers: Array<() => unknown> = [];
  const refusals: Record<string, unknown>[] = [];
  const logger: Logger = {
    ...nullLogger,
    child: () => logger,
    warn: (msg, f) => {
      if (msg.startsWith('refused')) refusals.push({ ...f });
    },
  };
  const ports = { clock: systemClock, random: systemRandom, agentVersion: '0.1.0' };
  let facts: ReturnType<typeof routerFacts>;
  let paths1: Awaited<ReturnType<typeof writeSimRouter>>;
  let registry: AgentRegistry;

  before(async () => {
    ({ dir: root, cleanup } = await makeTmpDir());
    sb = await startSaltSandbox({
      root: join(root, 'conductor'),
      host: '127.0.0.2',
      masterConfig: { auto_accept: true },
    });
  });
  after(async () => {
    for (const c of closers.reverse()) await c();
    await sb.close();
    await cleanup();
  });

  it('records the key the agent announced under the minion id the master authenticated', async () => {
    registry = await AgentRegistry.open(join(root, 'conductor/var/lib/ssr-recovery'), { flushDelayMs: 5 });
    const client = new SaltApiClient({
      url: sb.url,
      username: sb.username,
      password: sb.secret,
      eauth: 'sharedsecret',
    });
    const events = openSaltEvents(client, { tags: [ENROLL_TAG] });
    closers.push(
      () => client.close(),
      () => events.close(),
    );
    await new Promise<void>((r) => events.once('connected', () => r()));
    void runEnrollListener(events, { registry, logger, pkiDir: sb.pkiDir });

    // A forged event on the master bus (not a _minion_event): ignored.
    sb.master.bus.fire(ENROLL_TAG, { id: 'router-1', data: { agentPublicKey: generateSigningKeyPair().publicPem } });

    const paths = (paths1 = await writeSimRouter({
      root: join(root, 'router-1'),
      id: 'router-1',
      master: sb.master.address,
    }));
    const service = commandServiceControl({
      name: 'salt-minion',
      unit: 'salt-minion',
      commands: minionServiceCommands(paths),
    });
    closers.push(() => service.stop());
    await service.start();
    await sb.master.waitForMinion('router-1');
    facts = routerFacts(
      { ...paths, stateDir: join(root, 'router-1/agent') },
      {
        minionId: 'router-1',
        service,
        saltCall: fixtureCommandLine('salt-call', ['--config-dir', paths.configDir]),
      },
    );
    const agent = await startRouter(facts, { enroll: true });
    closers.push(() => agent.stop());
    await until(() => registry.get('router-1') !== undefined, 30_000, 'enrollment');
    assert.equal(registry.get('router-1')?.fingerprint, agent.agentKeyFingerprint);
    assert.equal(registry.get('router-1')?.source, 'salt-event');

    // The agent's key changes (router rebuilt): the new key waits for an operator.
    const rebuilt = generateSigningKeyPair();
    const r = await announceKey({
      runner: systemProcessRunner,
      saltCall: facts.saltCall,
      minionId: 'router-1',
      pkiDir: paths.pkiDir,
      agentPublicKey: rebuilt.publicPem,
      ...ports,
    });
    assert.equal(r.ok, true, r.detail);
    await until(
      async () => {
        await registry.refresh();
        return registry.get('router-1')?.pending !== undefined;
      },
      30_000,
      'pending key change',
    );
    assert.equal(registry.get('router-1')?.fingerprint, agent.agentKeyFingerprint, 'still the old key until approved');
  });

  it('a batched event from router-3 naming router-1 reaches /events verbatim and is refused (forged enrollment)', async () => {
    const paths3 = await writeSimRouter({ root: join(root, 'router-3'), id: 'router-3', master: sb.master.address });
    const saltCall3 = fixtureCommandLine('salt-call', ['--config-dir', paths3.configDir]);
    const before = { ...registry.get('router-1')! };
    const mark = refusals.length;
    const mine = (): Record<string, unknown>[] => refusals.slice(mark).filter((f) => f.router === 'router-1');
    const hello = await systemProcessRunner.run([...splitCommandLine(saltCall3), 'event.send', 'test/hello', '{}'], {
      timeoutMs: 30_000,
    });
    assert.equal(hello.code, 0, `router-3's minion key is made and accepted: ${hello.stderr}`);
    const attackerKey = generateSigningKeyPair().publicPem;
    // Root on router-3 signs a statement naming router-1 with router-3's own minion key …
    const signedByWrongMinion = await buildEnrollPayload({
      minionId: 'router-1',
      pkiDir: paths3.pkiDir,
      agentPublicKey: attackerKey,
      ...ports,
    });
    // … or copies the old unsigned shape.
    const unsigned = { agentPublicKey: attackerKey, agentKeyFingerprint: 'x', agentVersion: '0.1.0' };
    const entries = [signedByWrongMinion, unsigned].map((data) => ({
      tag: ENROLL_TAG,
      data: { id: 'router-1', cmd: '_minion_event', data },
    }));
    const seen = sb.master.bus.waitFor((e) => e.tag === ENROLL_TAG && e.data.id === 'router-1', 30_000);
    const r = await systemProcessRunner.run(
      [
        ...splitCommandLine(saltCall3),
        'event.send',
        'ignored/tag',
        '{}',
        `preload=${JSON.stringify({ events: entries })}`,
      ],
      { timeoutMs: 30_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const fired = await seen;
    assert.equal(
      fired.data.cmd,
      '_minion_event',
      'the master fired the entry verbatim, id and cmd as the sender wrote them',
    );
    assert.equal(fired.data.ts, undefined, 'no master-added ts: not a plain event');
    await until(() => mine().length >= 2, 30_000, 'both forged enrollments refused');
    assert.deepEqual(
      mine()
        .map((f) => f.reason)
        .sort(),
      ['bad-signature', 'unsigned'],
    );
    await registry.refresh();
    assert.equal(registry.get('router-1')?.fingerprint, before.fingerprint);
    assert.deepEqual(registry.get('router-1')?.pending, before.pending, 'not even a pending key from the forgery');
    // The same router's genuine announcement still goes through (its own minion key).
    const own = await announceKey({
      runner: systemProcessRunner,
      saltCall: fixtureCommandLine('salt-call', ['--config-dir', paths1.configDir]),
      minionId: 'router-1',
      pkiDir: paths1.pkiDir,
      agentPublicKey: before.agentPublicKey,
      ...ports,
    });
    assert.equal(own.ok, true, own.detail);
    await until(
      async () => {
        await registry.refresh();
        return registry.get('router-1')!.seenAt !== before.seenAt;
      },
      30_000,
      'genuine re-announce',
    );
  });

  it('a minion that no longer trusts the master cannot announce anything (salt-call fails)', async () => {
    const paths = await writeSimRouter({ root: join(root, 'router-2'), id: 'router-2', master: sb.master.address });
    const service = commandServiceControl({
      name: 'salt-minion',
      unit: 'salt-minion',
      commands: minionServiceCommands(paths),
    });
    closers.push(() => service.stop());
    await service.start();
    await sb.master.waitForMinion('router-2');
    await sb.master.pki.writeKeyPair('master');
    await sb.master.restart();
    const r = await announceKey({
      runner: systemProcessRunner,
      saltCall: fixtureCommandLine('salt-call', ['--config-dir', paths.configDir]),
      minionId: 'router-2',
      pkiDir: paths.pkiDir,
      agentPublicKey: generateSigningKeyPair().publicPem,
      ...ports,
    });
    assert.equal(r.ok, false);
  });
});
