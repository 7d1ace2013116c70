// The master simulator must republish minion events exactly as Salt 3006.18's `_minion_event`
// (salt/daemons/masterapi.py; reference/salt.md §10, observed 2026-12-01): a plain event carries the
// id the master authenticated, even when the sender's preload says otherwise; a batched event
// (`preload='{"events":[…]}'`) fires each entry's data verbatim with whatever id and cmd the sender
// wrote, drops blacklisted tags, and duplicates under a pretag. Checked on salt-api /events too.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { splitCommandLine, systemProcessRunner } from '../../shared/ports/process-runner.js';
import { SaltApiClient } from '../../conductor-agent/saltapi/client.js';
import { openSaltEvents } from '../../conductor-agent/saltapi/events.js';
import { startSaltSandbox, type SaltSandbox } from '../../sandbox/saltapi-emulator/sandbox.js';
import { writeSimRouter } from '../../sandbox/salt/minion-setup.js';
import { fixtureCommandLine } from '../../sandbox/salt/entry.js';
import type { SaltBusEvent } from '../../sandbox/salt/event-bus.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

describe('integration: master simulator republishes batched minion events verbatim (as Salt 3006.18)', function () {
  this.timeout(60_000);
  let root: string;
  let cleanup: () => Promise<void>;
  let sb: SaltSandbox;
  let saltCall: string[];

  before(async () => {
    ({ dir: root, cleanup } = await makeTmpDir());
    sb = await startSaltSandbox({
      root: join(root, 'conductor'),
      host: '127.0.0.2',
      masterConfig: { auto_accept: true },
    });
    const paths = await writeSimRouter({ root: join(root, 'router-2'), id: 'router-2', master: sb.master.address });
    saltCall = splitCommandLine(fixtureCommandLine('salt-call', ['--config-dir', paths.configDir]));
  });
  after(async () => {
    await sb.close();
    await cleanup();
  });

  async function send(tag: string, data: string, ...kwargs: string[]): Promise<SaltBusEvent[]> {
    const from = sb.master.bus.history.length;
    const r = await systemProcessRunner.run([...saltCall, 'event.send', tag, data, ...kwargs], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    return sb.master.bus.history
      .slice(from)
      .filter((e) => !e.tag.startsWith('salt/auth') && !e.tag.startsWith('minion/refresh/'));
  }

  it("plain event: the sender's own id is replaced by the authenticated one; kwargs join the data", async () => {
    const fired = await send('test/plain', '{"a": 1}', 'b=2', 'preload={"id": "router-3"}');
    const ev = fired.find((e) => e.tag === 'test/plain');
    assert.ok(ev, JSON.stringify(fired));
    assert.equal(ev.data.id, 'router-2');
    assert.equal(ev.data.cmd, '_minion_event');
    assert.equal(typeof ev.data.ts, 'number');
    assert.deepEqual(
      { a: (ev.data.data as Record<string, unknown>).a, b: (ev.data.data as Record<string, unknown>).b },
      { a: 1, b: 2 },
    );
  });

  it("batched event: each entry's data verbatim (forged id and cmd kept), blacklisted tags dropped, pretag duplicated", async () => {
    const events = [
      { tag: 'test/forged', data: { id: 'router-3', cmd: '_minion_event', data: { x: 1 } } },
      { tag: 'test/nodata', y: 2 },
      { tag: 'salt/key', data: { id: 'router-3', act: 'accept' } },
      { tag: 'salt/job/1/return', data: { id: 'router-3' } },
    ];
    const fired = await send('ignored/outer', '{}', `preload=${JSON.stringify({ events, pretag: 'pre' })}`);
    assert.deepEqual(
      fired.map((e) => e.tag),
      ['test/forged', 'pre/test/forged', 'test/nodata', 'pre/test/nodata'],
    );
    const { _stamp, ...forged } = fired[0]!.data;
    assert.deepEqual(forged, { id: 'router-3', cmd: '_minion_event', data: { x: 1 } }, 'nothing added but _stamp');
    assert.equal(typeof _stamp, 'string');
    const { _stamp: _s2, ...nodata } = fired[2]!.data;
    assert.deepEqual(nodata, { tag: 'test/nodata', y: 2 }, 'an entry without data is fired itself');
  });

  it('salt-api /events shows the forged entry as if router-3 had sent it', async () => {
    const client = new SaltApiClient({
      url: sb.url,
      username: sb.username,
      password: sb.secret,
      eauth: 'sharedsecret',
    });
    const stream = openSaltEvents(client, { tags: ['test/forged-api'] });
    try {
      await new Promise<void>((r) => stream.once('connected', () => r()));
      const it = stream[Symbol.asyncIterator]();
      const next = it.next();
      await send(
        'x',
        '{}',
        `preload=${JSON.stringify({ events: [{ tag: 'test/forged-api', data: { id: 'router-3', cmd: '_minion_event', data: {} } }] })}`,
      );
      const got = await next;
      assert.equal(got.value.tag, 'test/forged-api');
      assert.equal((got.value.raw.data as Record<string, unknown>).id, 'router-3');
    } finally {
      stream.close();
      await client.close();
    }
  });
});
