// Regression, found by the drill's agentless router: on a master rebuilt without its minion keys the
// SSH fallback's steps cannot confirm until the key gate accepts the router's pending key, and the
// gate only knew the fingerprint read over SSH once the steps had returned — every agentless router
// timed out. The channel now hands the fingerprint over as soon as it has read minion.pub.
import assert from 'node:assert/strict';
import { planWave } from '../../../../conductor-agent/fleet/plan.js';
import { runWave } from '../../../../conductor-agent/fleet/apply.js';
import type { KeyGate } from '../../../../conductor-agent/fleet/key-gate.js';
import type { SshChannel } from '../../../../conductor-agent/fleet/ports.js';
import { systemClock } from '../../../../shared/ports/clock.js';

const PIN = Array.from({ length: 32 }, () => 'ab').join(':');
const MINION = Array.from({ length: 32 }, () => 'cd').join(':');

function wave(ssh: SshChannel, gate: KeyGate) {
  const plan = planWave({
    masterFingerprint: PIN,
    selection: { ids: ['r1'] },
    agents: [],
    reported: new Map(),
    keys: { accepted: [], pending: ['r1'], rejected: [], denied: [] },
    pendingFingerprints: new Map([['r1', MINION]]),
    answering: new Set(),
    ssh: new Map([['r1', [{ channel: 'ssh-direct', host: '127.0.0.1', port: 22, username: 'u', hostKeys: ['x'] }]]]),
    acceptNewHostKeys: false,
  });
  return runWave({
    plan,
    rate: 0,
    concurrency: 1,
    routerTimeoutMs: 5_000,
    verifyTimeoutMs: 2_000,
    gatePollMs: 10,
    ports: { ssh, gate, clock: systemClock, pinger: { ping: async (ids) => new Set(ids) } },
  });
}

describe('fleet wave: SSH fallback on a master that holds the key pending', () => {
  it('the gate accepts on the fingerprint read over SSH while the steps still wait for it', async () => {
    let accepted = false;
    const gate: KeyGate = {
      async check(_id, expected) {
        if (expected !== MINION) return { state: 'unverified', fingerprint: MINION };
        accepted = true;
        return { state: 'accepted', fingerprint: MINION };
      },
    };
    const ssh: SshChannel = {
      async reauth(_id, _route, _fp, o) {
        o.onMinionKey?.(MINION);
        // the minion authenticates only once its key is accepted (as Salt's does)
        const end = Date.now() + 3_000;
        while (!accepted && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
        return accepted
          ? { ok: true, minionKeyFingerprint: MINION }
          : { ok: false, code: 'SSH_TIMEOUT', minionKeyFingerprint: MINION };
      },
    };
    const r = await wave(ssh, gate);
    assert.equal(r.outcomes[0]?.state, 'done', JSON.stringify(r.outcomes[0]));
  });

  it('a foreign pending key still ends as a possible impostor', async () => {
    const gate: KeyGate = {
      async check(_id, expected) {
        return expected
          ? { state: 'mismatch', fingerprint: 'ef', expected }
          : { state: 'unverified', fingerprint: 'ef' };
      },
    };
    const ssh: SshChannel = {
      async reauth(_id, _route, _fp, o) {
        o.onMinionKey?.(MINION);
        await new Promise((r) => setTimeout(r, 100));
        return { ok: true, minionKeyFingerprint: MINION };
      },
    };
    const r = await wave(ssh, gate);
    assert.equal(r.outcomes[0]?.state, 'impostor', JSON.stringify(r.outcomes[0]));
  });
});
