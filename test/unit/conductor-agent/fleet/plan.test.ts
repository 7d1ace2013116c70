import assert from 'node:assert/strict';
import { planWave, type PlanInputs } from '../../../../conductor-agent/fleet/plan.js';
import { globToRegExp, parseSelection, selector } from '../../../../conductor-agent/fleet/select.js';
import type { FleetEntry } from '../../../../conductor-agent/ws/fleet-view.js';

const M = Array.from({ length: 32 }, () => 'aa').join(':');
const K1 = Array.from({ length: 32 }, () => '11').join(':');
const K2 = Array.from({ length: 32 }, () => '22').join(':');

function agent(id: string, over: Partial<FleetEntry> = {}): FleetEntry {
  return {
    routerId: id,
    connected: true,
    enrolled: true,
    trust: 'stale-master-key',
    trustFacts: {
      state: 'stale-master-key',
      minionId: id,
      minionKeyFingerprint: K1,
      minionActive: true,
      evidence: [],
      since: '',
    },
    ...over,
  };
}

function inputs(over: Partial<PlanInputs>): PlanInputs {
  return {
    masterFingerprint: M,
    selection: { all: true },
    agents: [],
    reported: new Map(),
    keys: { accepted: [], pending: [], rejected: [], denied: [] },
    pendingFingerprints: new Map(),
    answering: new Set(),
    ssh: new Map(),
    acceptNewHostKeys: false,
    ...over,
  };
}

describe('fleet plan (pure)', () => {
  it('orders channels agent → SSR tunnel → direct SSH and gives the reason for each choice', () => {
    const tunnel = {
      channel: 'ssh-tunnel' as const,
      host: '127.127.0.1',
      port: 16496,
      username: 't128',
      alias: 'n1.r2',
      hostKeys: ['SHA256:x'],
    };
    const direct = {
      channel: 'ssh-direct' as const,
      host: '10.0.0.3',
      port: 22,
      username: 't128',
      hostKeys: ['SHA256:y'],
    };
    const p = planWave(
      inputs({
        agents: [agent('r1'), agent('r2', { connected: false })],
        ssh: new Map([
          ['r2', [tunnel, direct]],
          ['r3', [direct]],
        ]),
      }),
    );
    assert.deepEqual(
      p.routers.map((r) => [r.routerId, r.channel, r.routes.map((x) => x.channel)]),
      [
        ['r1', 'agent', ['agent']],
        ['r2', 'ssh-tunnel', ['ssh-tunnel', 'ssh-direct']],
        ['r3', 'ssh-direct', ['ssh-direct']],
      ],
    );
    assert.match(p.routers[1]!.reason, /agent offline/);
    assert.match(p.routers[2]!.reason, /no enrolled agent/);
    assert.ok(p.routers.every((r) => r.pinFingerprint === M));
    assert.equal(p.routers[0]!.expectedMinionFingerprint, K1);
  });

  it('skips routers already on the current key (agent report or test.ping) and journalled ones', () => {
    const trusted = agent('r1', {
      trust: 'trusted',
      trustFacts: {
        state: 'trusted',
        minionId: 'r1',
        cachedFingerprint: M,
        minionActive: true,
        evidence: [],
        since: '',
      },
    });
    const p = planWave(
      inputs({
        agents: [trusted, agent('r2'), agent('r3')],
        keys: { accepted: ['r1', 'r2', 'r3'], pending: [], rejected: [], denied: [] },
        answering: new Set(['r2']),
        done: new Set(['r3']),
      }),
    );
    assert.deepEqual(
      p.routers.map((r) => r.action),
      ['skip', 'skip', 'skip'],
    );
    assert.deepEqual(p.counts, { reauth: 0, skip: 3, blocked: 0 });
  });

  it('blocks a pending key that is not the reported one (possible impostor) and rejected keys', () => {
    const p = planWave(
      inputs({
        agents: [agent('r1'), agent('r2'), agent('r3')],
        keys: { accepted: [], pending: ['r1', 'r2'], rejected: ['r3'], denied: [] },
        pendingFingerprints: new Map([
          ['r1', K1],
          ['r2', K2],
        ]),
      }),
    );
    assert.deepEqual(
      p.routers.map((r) => [r.action, r.blocked ?? null]),
      [
        ['reauth', null],
        ['blocked', 'impostor'],
        ['blocked', 'key-rejected'],
      ],
    );
    assert.equal(p.routers[1]!.pendingFingerprint, K2);
  });

  it('an SSH route without a pinned host key is not used unless --accept-new-host-keys', () => {
    const route = { channel: 'ssh-direct' as const, host: '10.0.0.3', port: 22, username: 't128', hostKeys: [] };
    const strict = planWave(inputs({ ssh: new Map([['r1', [route]]]) }));
    assert.equal(strict.routers[0]!.action, 'blocked');
    assert.match(strict.routers[0]!.reason, /no pinned host key/);
    const loud = planWave(inputs({ ssh: new Map([['r1', [route]]]), acceptNewHostKeys: true }));
    assert.equal(loud.routers[0]!.channel, 'ssh-direct');
    assert.equal((loud.routers[0]!.routes[0] as { hostKeySource?: string }).hostKeySource, 'accept-new');
  });

  it('selects with Salt-style globs', () => {
    assert.ok(globToRegExp('site-*-r[12]').test('site-east-r1'));
    assert.ok(!globToRegExp('site-*-r[12]').test('site-east-r3'));
    assert.ok(!globToRegExp('a.b').test('axb'), 'a dot is literal');
    const m = selector(parseSelection({ routers: ['east-*,west-?'] }));
    assert.deepEqual(['east-1', 'west-2', 'west-22', 'north'].filter(m), ['east-1', 'west-2']);
    assert.throws(
      () => parseSelection({}),
      (e: { code?: string }) => e.code === 'USAGE',
    );
    assert.throws(
      () => parseSelection({ all: true, routers: ['x'] }),
      (e: { code?: string }) => e.code === 'USAGE',
    );
  });
});
