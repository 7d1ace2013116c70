// F9: a salt-api restarted while our /events stream is open keeps that stream open from the old
// process, which no longer follows the master (reference/salt.md §10; the emulator's
// `orphanStreams()` does the same). The stream must notice (idle → probe event → nothing) and
// reopen, after which new events arrive again. A quiet but live stream must not be dropped.
// Timers run on a manual clock; the HTTP, the emulator and the master simulator are real.
import assert from 'node:assert/strict';
import { SaltApiClient } from '../../conductor-agent/saltapi/client.js';
import { openSaltEvents, type SaltEventStream } from '../../conductor-agent/saltapi/events.js';
import type { Clock } from '../../shared/ports/clock.js';
import { startSaltSandbox, type SaltSandbox } from '../../sandbox/saltapi-emulator/sandbox.js';
import { until } from '../helpers/agents.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

/** A clock whose timers fire only when the test advances it; sleeps (reconnect delays) end at once. */
function manualClock(): Clock & { advance(ms: number): void } {
  let now = 1_000_000;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++seq;
      timers.set(id, { at: now + ms, fn });
      return id as unknown as NodeJS.Timeout;
    },
    clearTimeout(t) {
      timers.delete(t as unknown as number);
    },
    sleep: async () => undefined,
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = Math.max(now, due[1].at);
        due[1].fn();
      }
      now = end;
    },
  };
}

describe('integration: /events stream kept open by a restarted salt-api (F9)', function () {
  this.timeout(30_000);
  let sb: SaltSandbox;
  let cleanup: () => Promise<void>;
  const closers: Array<() => unknown> = [];

  beforeEach(async () => {
    const t = await makeTmpDir('ssr-events-stale-');
    cleanup = t.cleanup;
    sb = await startSaltSandbox({ root: t.dir });
  });
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
    await sb?.close();
    await cleanup?.();
  });

  function open(clock: Clock): { c: SaltApiClient; s: SaltEventStream; reasons: string[] } {
    const c = new SaltApiClient({ url: sb.url, username: sb.username, password: sb.secret, eauth: 'sharedsecret' });
    const s = openSaltEvents(c, { tags: ['test/*'], clock, liveness: { idleMs: 30_000, probeTimeoutMs: 10_000 } });
    const reasons: string[] = [];
    s.on('disconnected', (r: string) => reasons.push(r));
    closers.push(
      () => c.close(),
      () => s.close(),
    );
    return { c, s, reasons };
  }

  it('an orphaned stream (salt-api restarted under it) is caught by a probe and reopened; events flow', async () => {
    const clock = manualClock();
    const { c, s, reasons } = open(clock);
    await until(() => s.opens === 1, 10_000, 'the stream to open');
    await c.runner('event.send', { tag: 'test/before', data: {} });
    assert.equal((await s.waitFor(() => true, 10_000)).tag, 'test/before');

    sb.api.orphanStreams();
    await c.runner('event.send', { tag: 'test/lost', data: {} }); // the old process never delivers it
    clock.advance(30_000);
    assert.equal(s.probes, 1, 'idle for idleMs: a probe event was fired through salt-api');
    clock.advance(10_000);
    await until(() => s.opens === 2, 10_000, 'the stream to be reopened');
    assert.deepEqual(reasons, ['stream-stale']);
    assert.equal(s.staleDrops, 1);

    await c.runner('event.send', { tag: 'test/after', data: {} });
    assert.equal((await s.waitFor(() => true, 10_000)).tag, 'test/after');
  });

  it('a quiet live stream answers the probe and stays open (probe events are not handed to readers)', async () => {
    const clock = manualClock();
    const { c, s, reasons } = open(clock);
    await until(() => s.opens === 1, 10_000, 'the stream to open');
    const before = s.lastDataAt;
    clock.advance(30_000);
    assert.equal(s.probes, 1);
    await until(() => s.lastDataAt !== before || s.opens > 1, 10_000, 'the probe event to come back on the stream');
    clock.advance(10_000);
    clock.advance(25_000);
    assert.equal(s.opens, 1);
    assert.equal(s.staleDrops, 0);
    assert.deepEqual(reasons, []);
    await c.runner('event.send', { tag: 'test/next', data: {} });
    assert.equal((await s.waitFor(() => true, 10_000)).tag, 'test/next', 'the probe never reached the reader');
  });
});
