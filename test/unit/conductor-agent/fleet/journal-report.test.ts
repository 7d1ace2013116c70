import assert from 'node:assert/strict';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WaveJournal, type WaveHeader } from '../../../../conductor-agent/fleet/journal.js';
import { totalsOf, waveExitCode } from '../../../../conductor-agent/fleet/report.js';
import { BatchPinger } from '../../../../conductor-agent/fleet/verify.js';
import { systemClock } from '../../../../shared/ports/clock.js';
import { makeTmpDir } from '../../../helpers/tmpdir.js';

const header: WaveHeader = {
  version: 1,
  waveId: 'w1',
  conductorId: 'c1',
  masterFingerprint: 'fp',
  selection: { all: true },
  rate: 10,
  concurrency: 5,
  startedAt: '2026-01-01T00:00:00Z',
};

describe('fleet journal, report and verification', () => {
  it('a crashed wave leaves its outcomes; a torn last line is ignored; one wave at a time', async () => {
    const { dir, cleanup } = await makeTmpDir();
    try {
      const j = await WaveJournal.open(dir);
      await assert.rejects(WaveJournal.open(dir), (e: { code?: string }) => e.code === 'LOCK_HELD');
      await j.begin(header, false);
      await j.record({ routerId: 'r1', state: 'done' });
      await j.record({ routerId: 'r2', state: 'failed', code: 'AGENT_TIMEOUT' });
      await appendFile(join(dir, 'outcomes.jsonl'), '{"routerId":"r3","sta'); // killed mid-write
      await j.close(undefined);
      const again = await WaveJournal.open(dir);
      const s = await again.read();
      assert.equal(s!.header.finishedAt, undefined, 'unfinished: --resume continues it');
      assert.deepEqual([...s!.outcomes.keys()], ['r1', 'r2']);
      await again.close(undefined);
    } finally {
      await cleanup();
    }
  });

  it('exit 0 when every router is done or skipped, 5 when some are, 1 when none', () => {
    assert.equal(
      waveExitCode(
        totalsOf([
          { routerId: 'a', state: 'done' },
          { routerId: 'b', state: 'skipped' },
        ]),
      ),
      0,
    );
    assert.equal(
      waveExitCode(
        totalsOf([
          { routerId: 'a', state: 'done' },
          { routerId: 'b', state: 'impostor' },
        ]),
      ),
      5,
    );
    assert.equal(
      waveExitCode(
        totalsOf([
          { routerId: 'a', state: 'failed' },
          { routerId: 'b', state: 'not-started' },
        ]),
      ),
      1,
    );
  });

  it('pings waiting routers in batches and gives up on each at its own deadline', async () => {
    const calls: string[][] = [];
    let answering = new Set(['a', 'b', 'c']);
    const p = new BatchPinger({
      clock: systemClock,
      batch: 2,
      inFlight: 1,
      retryMs: 20,
      pinger: {
        ping: async (ids) => {
          calls.push([...ids]);
          await new Promise((r) => setTimeout(r, 5));
          return new Set(ids.filter((i) => answering.has(i)));
        },
      },
    });
    const now = Date.now();
    const rs = await Promise.all([
      p.confirm('a', now + 5_000),
      p.confirm('b', now + 5_000),
      p.confirm('c', now + 5_000),
      p.confirm('x', now + 200),
    ]);
    assert.deepEqual(
      rs.map((r) => r.ok),
      [true, true, true, false],
    );
    assert.ok(calls.every((c) => c.length <= 2));
    assert.ok(calls.length >= 2 && calls.length < 20, `batched: ${calls.length} calls`);
    answering = new Set();
  });
});
