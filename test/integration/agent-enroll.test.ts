// Enrollment over Salt through the salt-api emulator's /events stream: the router agent announces
// its key with salt-call (the stand-in authenticates like the minion), the master re-fires it with
// the authenticated id, and the conductor side records it in the registry. A changed key waits for
// approval; an event not fired by a minion is ignored; a minion that no longer trusts the master
// cannot enroll at all.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { nullLogger } from '../../shared/log/logger.js';
import { commandServiceControl } from '../../shared/ports/service-control.js';
import { ENROLL_TAG } from '../../shared/protocol/enroll.js';
import { generateSigningKeyPair } from '../../shared/protocol/keys.js';
import { SaltApiClient } from '../../conductor-agent/saltapi/client.js';
import { openSaltEvents } from '../../conductor-agent/saltapi/events.js';
import { AgentRegistry } from '../../conductor-agent/registry/store.js';
import { runEnrollListener } from '../../conductor-agent/registry/enroll-listener.js';
import { announceKey } from '../../router-agent/enroll.js';
import { systemProcessRunner } from '../../shared/ports/process-runner.js';
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

  before(async () => {
    ({ dir: root, cleanup } = await makeTmpDir());
    sb = await startSaltSandbox({ root: join(root, 'conductor'), host: '127.0.0.2', masterConfig: { auto_accept: true } });
  });
  after(async () => {
    for (const c of closers.reverse()) await c();
    await sb.close();
    await cleanup();
  });

  it('records the key the agent announced under the minion id the master authenticated', async () => {
    const registry = await AgentRegistry.open(join(root, 'conductor/var/lib/ssr-recovery'), { flushDelayMs: 5 });
    const client = new SaltApiClient({ url: sb.url, username: sb.username, password: sb.secret, eauth: 'sharedsecret' });
    const events = openSaltEvents(client, { tags: [ENROLL_TAG] });
    closers.push(() => client.close(), () => events.close());
    await new Promise<void>((r) => events.once('connected', () => r()));
    void runEnrollListener(events, { registry, logger: nullLogger });

    // A forged event on the master bus (not a _minion_event): ignored.
    sb.master.bus.fire(ENROLL_TAG, { id: 'router-1', data: { agentPublicKey: generateSigningKeyPair().publicPem } });

    const paths = await writeSimRouter({ root: join(root, 'router-1'), id: 'router-1', master: sb.master.address });
    const service = commandServiceControl({ name: 'salt-minion', unit: 'salt-minion', commands: minionServiceCommands(paths) });
    closers.push(() => service.stop());
    await service.start();
    await sb.master.waitForMinion('router-1');
    const facts = routerFacts({ ...paths, stateDir: join(root, 'router-1/agent') }, {
      minionId: 'router-1', service, saltCall: fixtureCommandLine('salt-call', ['--config-dir', paths.configDir]),
    });
    const agent = await startRouter(facts, { enroll: true });
    closers.push(() => agent.stop());
    await until(() => registry.get('router-1') !== undefined, 30_000, 'enrollment');
    assert.equal(registry.get('router-1')?.fingerprint, agent.agentKeyFingerprint);
    assert.equal(registry.get('router-1')?.source, 'salt-event');

    // The agent's key changes (router rebuilt): the new key waits for an operator.
    const rebuilt = generateSigningKeyPair();
    const r = await announceKey({ runner: systemProcessRunner, saltCall: facts.saltCall, payload: { agentPublicKey: rebuilt.publicPem, agentKeyFingerprint: 'x', agentVersion: '0.1.0' } });
    assert.equal(r.ok, true, r.detail);
    await until(async () => { await registry.refresh(); return registry.get('router-1')?.pending !== undefined; }, 30_000, 'pending key change');
    assert.equal(registry.get('router-1')?.fingerprint, agent.agentKeyFingerprint, 'still the old key until approved');
  });

  it('a minion that no longer trusts the master cannot announce anything (salt-call fails)', async () => {
    const paths = await writeSimRouter({ root: join(root, 'router-2'), id: 'router-2', master: sb.master.address });
    const service = commandServiceControl({ name: 'salt-minion', unit: 'salt-minion', commands: minionServiceCommands(paths) });
    closers.push(() => service.stop());
    await service.start();
    await sb.master.waitForMinion('router-2');
    await sb.master.pki.writeKeyPair('master');
    await sb.master.restart();
    const r = await announceKey({ runner: systemProcessRunner, saltCall: fixtureCommandLine('salt-call', ['--config-dir', paths.configDir]), payload: { agentPublicKey: generateSigningKeyPair().publicPem, agentKeyFingerprint: 'x', agentVersion: '0.1.0' } });
    assert.equal(r.ok, false);
  });
});
