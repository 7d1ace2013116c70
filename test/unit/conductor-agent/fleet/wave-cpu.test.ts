// Regressions named after the causes found by profiling the `conductor-agent reauth` CLI in the
// fleet bench (2.4 ms of CPU per router at 10,000): a poll loop per in-flight router, a pending key
// read twice (check, then accept), a folder fsync per accepted key, one journal write per router.
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { acceptReadKeys, readPendingKey } from '../../../../conductor-agent/keys/accept.js';
import { runWave } from '../../../../conductor-agent/fleet/apply.js';
import { WaveJournal } from '../../../../conductor-agent/fleet/journal.js';
import { pkiKeyGate, type GateResult, type KeyGate } from '../../../../conductor-agent/fleet/key-gate.js';
import { systemClock, type Clock } from '../../../../shared/ports/clock.js';
import { pemFinger } from '../../../../shared/salt/fingerprint.js';
import { makeTmpDir } from '../../../helpers/tmpdir.js';
import { pkiDir, plan, pub } from './wave-fixtures.js';

describe('fleet wave CPU: the causes found by profiling the reauth CLI', () => {
  it('regression poll loop per router: the gate runs one timer for the whole wave, however many are in flight', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `r${i}`);
    let timers = 0;
    let sleeps = 0;
    const clock: Clock = {
      ...systemClock,
      setTimeout: (fn, ms) => {
        timers++;
        return systemClock.setTimeout(fn, ms);
      },
      sleep: (ms, signal) => {
        sleeps++;
        return systemClock.sleep(ms, signal);
      },
    };
    const pending = new Set<string>();
    const checkedTogether: number[] = [];
    const gate: KeyGate = {
      check: async () => ({ state: 'none' }),
      async checkMany(items) {
        checkedTogether.push(items.length);
        const out = new Map<string, GateResult>();
        for (const i of items) {
          out.set(i.id, { state: 'accepted', fingerprint: 'ff' });
          pending.delete(i.id);
        }
        return out;
      },
      pendingIds: async () => new Set(pending),
    };
    const r = await runWave({
      plan: plan(ids, 'ff'),
      rate: 0,
      concurrency: 100,
      routerTimeoutMs: 5_000,
      verifyTimeoutMs: 5_000,
      gatePollMs: 20,
      ports: {
        clock,
        gate,
        pinger: { ping: async (xs) => new Set(xs) },
        agent: {
          async reauth(id) {
            // every router is in flight for ~10 gate ticks before its key shows up pending
            await new Promise((res) => setTimeout(res, 200));
            pending.add(id);
            while (pending.has(id)) await new Promise((res) => setTimeout(res, 5));
            return { ok: true };
          },
        },
      },
    });
    assert.deepEqual(
      r.outcomes.map((o) => o.state),
      ids.map(() => 'done'),
    );
    assert.equal(sleeps, 0, 'no router sleeps on its own timer');
    // 50 routers × ~10 ticks each would be ~500 timers with a loop per router.
    assert.ok(timers < 60, `timers armed: ${timers}`);
    assert.ok(Math.max(...checkedTogether) > 1, `keys pending together are checked together: ${checkedTogether}`);
  });

  it('regression pending key read twice: the gate reads once; a key swapped after that read is refused and left pending', async () => {
    const { dir, cleanup } = await pkiDir();
    try {
      const real = pub();
      const other = pub();
      await writeFile(join(dir, 'minions_pre/a'), real);
      await writeFile(join(dir, 'minions_pre/b'), real);
      await chmod(join(dir, 'minions_pre/b'), 0o640);
      const a = readPendingKey(dir, 'a')!;
      const b = readPendingKey(dir, 'b')!;
      assert.equal(a.text, real);
      await writeFile(join(dir, 'minions_pre/a'), other); // an attacker swaps the pending file after the check
      const r = await acceptReadKeys(dir, [a, b]);
      assert.equal((r.get('a') as { code?: string } | undefined)?.code, 'KEYS_REFUSED');
      assert.equal(await readFile(join(dir, 'minions_pre/a'), 'utf8'), other, 'the swapped key stays pending');
      assert.equal(r.get('b'), undefined);
      assert.equal(await readFile(join(dir, 'minions/b'), 'utf8'), real, 'exactly the checked bytes');
      assert.equal((await stat(join(dir, 'minions/b'))).mode & 0o777, 0o640, "the pending file's mode");
      assert.deepEqual((await readdir(join(dir, 'minions'))).sort(), ['b'], 'no claim files left');
      assert.deepEqual((await readdir(join(dir, 'minions_pre'))).sort(), ['a']);
      assert.equal(readPendingKey(dir, 'b'), undefined, 'no pending key: undefined');
      assert.throws(
        () => readPendingKey(dir, '../minions/b'),
        (e: { code?: string }) => e.code === 'KEYS_INVALID',
      );
    } finally {
      await cleanup();
    }
  });

  // Cause: on ext4 a new inode cost ~0.5 ms of kernel time during the wave (perf: recently_deleted()
  // in the inode allocator), most of the CLI's CPU. The gate moves the pending file as salt-key does.
  it('regression a new file per accepted key: the accepted key is the pending inode, moved', async () => {
    const { dir, cleanup } = await pkiDir();
    try {
      const k = pub();
      await writeFile(join(dir, 'minions_pre/a'), k);
      const ino = (await stat(join(dir, 'minions_pre/a'))).ino;
      const r = await pkiKeyGate(dir).check('a', pemFinger(k));
      assert.equal(r.state, 'accepted');
      assert.equal((await stat(join(dir, 'minions/a'))).ino, ino);
    } finally {
      await cleanup();
    }
  });

  it('regression folder fsync per key: one checkMany accepts the matching keys and leaves the rest pending', async () => {
    const { dir, cleanup } = await pkiDir();
    try {
      const keys = Array.from({ length: 5 }, () => pub());
      const foreign = pub();
      for (let i = 0; i < 5; i++) await writeFile(join(dir, `minions_pre/r${i}`), keys[i]!);
      await writeFile(join(dir, 'minions_pre/bad'), foreign);
      await writeFile(join(dir, 'minions_pre/half'), keys[0]!.slice(0, 80)); // Salt still writing it
      const items = [
        ...keys.map((k, i) => ({ id: `r${i}`, expected: pemFinger(k) })),
        { id: 'bad', expected: pemFinger(keys[0]!) },
        { id: 'half', expected: pemFinger(keys[0]!) },
        { id: 'gone', expected: pemFinger(keys[0]!) },
        { id: 'nobody-said', expected: undefined },
      ];
      await writeFile(join(dir, 'minions_pre/nobody-said'), foreign);
      const r = await pkiKeyGate(dir).checkMany!(items);
      for (let i = 0; i < 5; i++) {
        assert.deepEqual(r.get(`r${i}`), { state: 'accepted', fingerprint: pemFinger(keys[i]!) });
        assert.equal(await readFile(join(dir, `minions/r${i}`), 'utf8'), keys[i]);
      }
      assert.equal(r.get('bad')?.state, 'mismatch');
      assert.deepEqual(r.get('half'), { state: 'none' });
      assert.deepEqual(r.get('gone'), { state: 'none' });
      assert.equal(r.get('nobody-said')?.state, 'unverified');
      assert.deepEqual((await readdir(join(dir, 'minions'))).sort(), ['r0', 'r1', 'r2', 'r3', 'r4'], 'no temp files');
      assert.deepEqual((await readdir(join(dir, 'minions_pre'))).sort(), ['bad', 'half', 'nobody-said']);
    } finally {
      await cleanup();
    }
  });

  it('a batch accept that cannot write leaves every key pending and says why', async () => {
    const { dir, cleanup } = await makeTmpDir();
    try {
      await mkdir(join(dir, 'minions_pre'), { recursive: true }); // no minions/ folder
      const k = pub();
      await writeFile(join(dir, 'minions_pre/a'), k);
      const r = await pkiKeyGate(dir).check('a', pemFinger(k));
      assert.equal(r.state, 'failed');
      assert.equal((r as { code: string }).code, 'FS_WRITE_FAILED');
      assert.deepEqual(await readdir(join(dir, 'minions_pre')), ['a']);
      assert.equal(await readFile(join(dir, 'minions_pre/a'), 'utf8'), k);
    } finally {
      await cleanup();
    }
  });

  it('regression journal write per router: records made together all land, in order, each once it resolves', async () => {
    const { dir, cleanup } = await makeTmpDir();
    try {
      const j = await WaveJournal.open(dir);
      await j.begin(
        {
          version: 1,
          waveId: 'w1',
          conductorId: 'c1',
          masterFingerprint: 'fp',
          selection: { all: true },
          rate: 0,
          concurrency: 500,
          startedAt: '2026-01-01T00:00:00Z',
        },
        false,
      );
      const ids = Array.from({ length: 500 }, (_, i) => `r${i}`);
      const seen: boolean[] = await Promise.all(
        ids.map(async (routerId) => {
          await j.record({ routerId, state: 'done' });
          // resolved: the line is in the file (a kill -9 now loses nothing)
          return (await readFile(join(dir, 'outcomes.jsonl'), 'utf8')).includes(`"${routerId}"`);
        }),
      );
      assert.ok(seen.every(Boolean));
      await j.record({ routerId: 'last', state: 'failed' });
      await j.close(undefined);
      const lines = (await readFile(join(dir, 'outcomes.jsonl'), 'utf8')).trim().split('\n');
      assert.deepEqual(
        lines.map((l) => (JSON.parse(l) as { routerId: string }).routerId),
        [...ids, 'last'],
      );
    } finally {
      await cleanup();
    }
  });
});
