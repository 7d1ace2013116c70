import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock } from '../../../../shared/ports/clock.js';
import { pemFinger } from '../../../../shared/salt/fingerprint.js';
import { runWave } from '../../../../conductor-agent/fleet/apply.js';
import { pkiKeyGate, type GateResult, type KeyGate } from '../../../../conductor-agent/fleet/key-gate.js';
import { pkiDir, plan, pub } from './wave-fixtures.js';

describe('fleet key gate: one listing per tick, then a read', () => {
  it('pendingIds lists minions_pre only (not accepted, dotfiles or temp files)', async () => {
    const { dir, cleanup } = await pkiDir();
    try {
      const k = pub();
      await writeFile(join(dir, 'minions_pre/a'), k);
      await writeFile(join(dir, 'minions_pre/.b.tmp'), k);
      await writeFile(join(dir, 'minions/c'), k);
      assert.deepEqual([...(await pkiKeyGate(dir).pendingIds!())], ['a']);
    } finally {
      await cleanup();
    }
  });

  // Cause: every in-flight router read minions_pre/<id> every 250 ms (4,000 reads a second at 1,000
  // in flight), most of the CLI's time in the fleet bench. Only a listed router is read now.
  it('a wave checks only routers whose key is listed as pending, and still accepts each one', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `r${i}`);
    const pending = new Set<string>();
    const checked: string[] = [];
    let listings = 0;
    const gate: KeyGate = {
      async pendingIds() {
        listings++;
        return new Set(pending);
      },
      async check(id): Promise<GateResult> {
        checked.push(id);
        pending.delete(id);
        return { state: 'accepted', fingerprint: 'ff' };
      },
    };
    const pinged = new Set<string>();
    const r = await runWave({
      plan: plan(ids, 'ff'),
      rate: 0,
      concurrency: 100,
      routerTimeoutMs: 5_000,
      verifyTimeoutMs: 5_000,
      gatePollMs: 20,
      ports: {
        clock: systemClock,
        gate,
        pinger: { ping: async (xs) => new Set(xs.filter((x) => pinged.has(x))) },
        agent: {
          async reauth(id) {
            // The minion signs in some time after the command; its key shows up pending, then the gate accepts it.
            await new Promise((res) => setTimeout(res, 60));
            pending.add(id);
            while (pending.has(id)) await new Promise((res) => setTimeout(res, 5));
            pinged.add(id);
            return { ok: true };
          },
        },
      },
    });
    assert.deepEqual(
      r.outcomes.map((o) => o.state),
      ids.map(() => 'done'),
    );
    assert.deepEqual([...checked].sort(), [...ids].sort(), 'each router checked once, when listed');
    assert.ok(listings < ids.length * 4, `listings are shared between routers (${listings})`);
  });

  it('without a listing (a gate that cannot list) every poll checks the file, as before', async () => {
    const { dir, cleanup } = await pkiDir();
    try {
      const k = pub();
      const real = pkiKeyGate(dir);
      let checks = 0;
      const gate: KeyGate = {
        check: (id, e) => {
          checks++;
          return real.check(id, e);
        },
      };
      const r = await runWave({
        plan: plan(['x'], pemFinger(k)),
        rate: 0,
        concurrency: 1,
        routerTimeoutMs: 5_000,
        verifyTimeoutMs: 5_000,
        gatePollMs: 10,
        ports: {
          clock: systemClock,
          gate,
          pinger: { ping: async (xs) => new Set(xs) },
          agent: {
            async reauth() {
              await new Promise((res) => setTimeout(res, 50));
              await writeFile(join(dir, 'minions_pre/x'), k);
              await new Promise((res) => setTimeout(res, 50));
              return { ok: true };
            },
          },
        },
      });
      assert.equal(r.outcomes[0]!.state, 'done');
      assert.equal(await readFile(join(dir, 'minions/x'), 'utf8'), k, 'the gate accepted the key');
      assert.ok(checks > 1);
    } finally {
      await cleanup();
    }
  });
});
