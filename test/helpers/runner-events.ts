/**
 * What a runner call through salt-api puts on the event bus and answers, as observed on Salt
 * 3006.18 (checked against real Salt by test:salt `keys-events.test.ts` and against the emulator by
 * `npm test`, so the two stay in step): `salt/run/<jid>/new` with fun/jid/user/fun_args/_stamp,
 * then `salt/run/<jid>/ret` with return/success after `_stamp`; `full_return: true` answers with
 * the ret event `{data, tag}`.
 */
import assert from 'node:assert/strict';
import type { SaltApiClient } from '../../conductor-agent/saltapi/client.js';
import { openSaltEvents } from '../../conductor-agent/saltapi/events.js';

export async function checkRunnerEventShapes(c: SaltApiClient): Promise<void> {
  const s = openSaltEvents(c, { tags: ['salt/run/*', 'test/runner-shape'], liveness: false });
  try {
    await new Promise<void>((r) => s.once('connected', () => r()));
    const chunk = { client: 'runner', fun: 'event.send', tag: 'test/runner-shape', data: { n: 1 }, full_return: true };
    const [reply] = await c.low([chunk as never]);
    const r = reply as { tag: string; data: Record<string, unknown> };
    assert.match(r.tag, /^salt\/run\/\d{20}\/ret$/);
    const jid = r.tag.split('/')[2]!;
    assert.deepEqual(Object.keys(r.data), ['fun', 'jid', 'user', 'fun_args', '_stamp', 'return', 'success']);
    assert.equal(r.data.fun, 'runner.event.send');
    assert.equal(r.data.jid, jid);
    assert.equal(r.data.return, true);
    const seen = new Map<string, Record<string, unknown>>();
    while (seen.size < 3) {
      const e = await s.waitFor(() => true, 30_000);
      seen.set(e.tag, e.raw.data);
    }
    assert.deepEqual(Object.keys(seen.get(`salt/run/${jid}/new`) ?? {}), ['fun', 'jid', 'user', 'fun_args', '_stamp']);
    const retKeys = ['fun', 'jid', 'user', 'fun_args', '_stamp', 'return', 'success'];
    assert.deepEqual(Object.keys(seen.get(`salt/run/${jid}/ret`) ?? {}), retKeys);
    assert.deepEqual(Object.keys(seen.get('test/runner-shape') ?? {}), ['n', '_stamp']);
  } finally {
    s.close();
  }
}
