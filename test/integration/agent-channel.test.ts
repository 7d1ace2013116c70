import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { hasCode } from '../../shared/errors.js';
import { pemFinger } from '../../shared/salt/fingerprint.js';
import { generateSigningKeyPair, loadPublicKeys } from '../../shared/protocol/signing-keys.js';
import { reauthRouter } from '../../conductor-agent/reauth/single.js';
import { cachedFingerprint } from '../../router-agent/minion/pki.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { startConductorSide, routerFacts, startRouter, until, type ConductorSide } from '../helpers/agents.js';
import { FakeMinion, makeRouterTree, rsaPublicPem } from '../unit/router-agent/fake-minion.js';
import type { RouterAgent } from '../../router-agent/daemon/agent.js';

describe('agent channel over real wss on loopback (conductor 127.0.0.2, fake minion)', () => {
  const oldMaster = rsaPublicPem();
  const newMaster = rsaPublicPem();
  let dir: string;
  let cleanup: () => Promise<void>;
  let conductor: ConductorSide;
  const agents: RouterAgent[] = [];

  beforeEach(async () => {
    ({ dir, cleanup } = await makeTmpDir());
    conductor = await startConductorSide(dir, { masterFingerprint: async () => pemFinger(newMaster) });
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
    await conductor.server.close();
    await cleanup();
  });

  async function router(
    id: string,
    o: { enroll?: boolean; certFingerprints?: string[]; conductorKeyPem?: string } = {},
  ) {
    const tree = await makeRouterTree(join(dir, id), oldMaster, id);
    const minion = new FakeMinion(tree, newMaster);
    minion.active = true;
    await minion.attempt();
    if (o.enroll !== false)
      await conductor.registry.enroll(id, await agentPublicPem(tree.stateDir), { source: 'salt-event' });
    const facts = routerFacts(tree, { minionId: id, conductor, service: minion, certFingerprints: o.certFingerprints });
    if (o.conductorKeyPem) facts.conductorKeys = loadPublicKeys(o.conductorKeyPem);
    const agent = await startRouter(facts, { probe: () => minion.probe() });
    agents.push(agent);
    return { tree, minion, agent };
  }

  /** Create the router's agent key ahead of its start, as a previous run (and its Salt enrollment) would have. */
  async function agentPublicPem(stateDir: string): Promise<string> {
    const { loadOrCreateAgentKey } = await import('../../router-agent/agent-key.js');
    return (await loadOrCreateAgentKey(stateDir)).publicPem;
  }

  it('detects the stale key from the minion log, reports it, and re-authenticates on a signed command', async () => {
    const { tree, agent } = await router('router-1');
    assert.equal(agent.trust().state, 'stale-master-key');
    await until(
      () => conductor.server.fleet().find((e) => e.routerId === 'router-1')?.trust === 'stale-master-key',
      10_000,
      'stale state in fleet view',
    );
    const result = await reauthRouter({
      server: conductor.server,
      routerId: 'router-1',
      fingerprint: pemFinger(newMaster),
      routerTimeoutMs: 5_000,
    });
    assert.equal(result.ok, true, result.outcome.message);
    assert.equal(result.outcome.cachedFingerprint, pemFinger(newMaster));
    assert.equal(result.report.verifiedWith, (await conductor.registry.get('router-1'))!.fingerprint);
    assert.equal(await cachedFingerprint(tree.pkiDir), pemFinger(newMaster));
    await until(
      () => conductor.server.fleet().find((e) => e.routerId === 'router-1')?.trust === 'trusted',
      10_000,
      'trusted in fleet view',
    );
  });

  it('a router that is not enrolled is refused for commands (AGENT_NOT_ENROLLED) and its reports never reach the fleet view', async () => {
    const before = conductor.server.stats().unenrolled;
    const { agent: r2 } = await router('router-2', { enroll: false });
    await until(() => r2.connected().length === 1, 10_000, 'hello accepted as unenrolled');
    assert.equal(conductor.server.stats().unenrolled, before + 1);
    await assert.rejects(
      reauthRouter({ server: conductor.server, routerId: 'router-2', fingerprint: pemFinger(newMaster) }),
      (e) => hasCode(e, 'AGENT_NOT_ENROLLED'),
    );
    assert.equal(
      conductor.server.fleet().find((e) => e.routerId === 'router-2'),
      undefined,
      'an unauthenticated peer is not in the fleet view',
    );
    // Enrolled afterwards (as the Salt listener would): the connection it proved is promoted.
    await conductor.registry.enroll('router-2', r2.agentPublicKey, { source: 'operator' });
    assert.equal(conductor.server.promote('router-2'), true);
    assert.equal(conductor.server.fleet().find((e) => e.routerId === 'router-2')?.connected, true);
    assert.equal(conductor.server.stats().unenrolled, before);
  });

  it('an agent presenting another key than the enrolled one is refused at hello (AGENT_KEY_CHANGED)', async () => {
    const other = generateSigningKeyPair();
    await conductor.registry.enroll('router-3', other.publicPem, { source: 'salt-event' });
    const { agent } = await router('router-3', { enroll: false });
    await until(() => agent.links()[0]?.lastError === 'AGENT_KEY_CHANGED', 10_000, 'the hello refusal');
    assert.deepEqual(agent.connected(), []);
    await assert.rejects(
      reauthRouter({ server: conductor.server, routerId: 'router-3', fingerprint: pemFinger(newMaster) }),
      (e) => hasCode(e, 'AGENT_UNREACHABLE'),
    );
  });

  it('the router refuses a conductor whose certificate is not the pinned one', async () => {
    const { agent } = await router('router-4', { certFingerprints: ['00'.repeat(32)] });
    await until(() => agent.links()[0]?.lastError === 'AGENT_TLS_PIN_MISMATCH', 10_000, 'the pin refusal');
    assert.deepEqual(agent.connected(), []);
    assert.equal(conductor.server.fleet().find((e) => e.routerId === 'router-4')?.connected ?? false, false);
  });

  it('the router refuses commands signed by an unpinned key, keeps running and answers with the code', async () => {
    const { agent, tree } = await router('router-5', { conductorKeyPem: generateSigningKeyPair().publicPem });
    await until(() => agent.connected().length === 1, 10_000, 'connection');
    await assert.rejects(
      reauthRouter({ server: conductor.server, routerId: 'router-5', fingerprint: pemFinger(newMaster) }),
      (e) => hasCode(e, 'PROTOCOL_BAD_SIGNATURE'),
    );
    assert.equal(await cachedFingerprint(tree.pkiDir), pemFinger(oldMaster), 'nothing changed');
    assert.equal(agent.connected().length, 1, 'still connected');
  });

  it('rollback through the channel restores the previous files', async () => {
    const { tree, agent } = await router('router-6');
    await until(() => agent.connected().length === 1, 10_000, 'connection');
    const before = await fsp.readFile(join(tree.pkiDir, 'minion_master.pub'));
    assert.equal(
      (await reauthRouter({ server: conductor.server, routerId: 'router-6', fingerprint: pemFinger(newMaster) })).ok,
      true,
    );
    const rb = await reauthRouter({ server: conductor.server, routerId: 'router-6', action: 'rollback' });
    assert.equal(rb.ok, true, rb.outcome.message);
    assert.deepEqual(await fsp.readFile(join(tree.pkiDir, 'minion_master.pub')), before);
  });
});
