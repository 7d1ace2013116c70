// The typed /events stream against the emulator: tag filtering, typed salt/key, salt/auth,
// minion start and minion custom events, reconnect after a dropped stream (server retry hint),
// token expiry mid-stream (salt-api ends the stream; the client logs in again), permanent denial.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import sinon from 'sinon';
import { SaltApiClient } from '../../conductor-agent/saltapi/client.js';
import { openSaltEvents, type SaltEventStream } from '../../conductor-agent/saltapi/events.js';
import type { SaltEvent } from '../../conductor-agent/saltapi/salt-event.js';
import { hasCode } from '../../shared/errors.js';
import { startSaltSandbox, type SaltSandbox } from '../../sandbox/saltapi-emulator/sandbox.js';
import { startSaltApiEmulator } from '../../sandbox/saltapi-emulator/server.js';
import { genRsaPair } from '../../sandbox/salt/master-pki.js';
import { runMinionInProcess, writeSimRouter } from '../../sandbox/salt/minion-setup.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

describe('integration: salt-api /events stream', function () {
  this.timeout(30_000);
  let sb: SaltSandbox;
  let root: string;
  let cleanup: () => Promise<void>;
  const closers: Array<() => unknown> = [];
  const connected = (s: SaltEventStream): Promise<void> => new Promise((r) => s.once('connected', () => r()));

  before(async () => {
    ({ dir: root, cleanup } = await makeTmpDir());
    sb = await startSaltSandbox({ root, masterConfig: { auto_accept: true } });
  });
  after(async () => {
    for (const c of closers.reverse()) await c();
    await sb?.close();
    await cleanup?.();
  });

  function open(tags?: string[]): { c: SaltApiClient; s: SaltEventStream } {
    const c = new SaltApiClient({ url: sb.url, username: sb.username, password: sb.secret, eauth: 'sharedsecret' });
    const s = openSaltEvents(c, tags ? { tags } : {});
    closers.push(
      () => c.close(),
      () => s.close(),
    );
    return { c, s };
  }

  it('delivers typed events filtered by tag: salt/key, salt/auth, minion start, minion custom event', async () => {
    const { c, s } = open(['salt/key', 'salt/auth', 'salt/minion/*/start', 'ssr-recovery/*']);
    await connected(s);
    await sb.master.pki.writeMinionKey('minions_pre', 'pending-1', genRsaPair().pub);
    await c.wheel('key.accept', { match: 'pending-1' });
    const key = await s.waitFor((e) => e.kind === 'key');
    assert.ok(key.kind === 'key' && key.act === 'accept' && key.minionId === 'pending-1');

    const m = runMinionInProcess(
      await writeSimRouter({ root: join(root, 'r1'), id: 'router-1', master: sb.master.address }),
    );
    closers.push(() => m.stop());
    const auth = await s.waitFor((e) => e.kind === 'auth');
    assert.ok(auth.kind === 'auth' && auth.minionId === 'router-1' && auth.act === 'accept' && auth.result);
    const start = await s.waitFor((e) => e.kind === 'minion-start');
    assert.equal(start.kind === 'minion-start' && start.minionId, 'router-1');

    await c.local('router-1', 'event.send', ['ssr-recovery/router-agent/enroll', { agentPublicKey: 'k' }]);
    const custom = await s.waitFor((e) => e.kind === 'minion-event');
    assert.ok(
      custom.kind === 'minion-event' &&
        custom.minionId === 'router-1' &&
        custom.tag === 'ssr-recovery/router-agent/enroll',
    );
    assert.equal((custom.payload as { agentPublicKey: string }).agentPublicKey, 'k');
  });

  // Regression (daemon CPU in the fleet bench): the daemon's stream wants enrollments only, yet
  // parsed the JSON of every event of a fleet coming back (tens of thousands of salt/auth and job
  // events) before dropping it by tag.
  it('drops an unwanted event by its tag: line without parsing its JSON', async () => {
    const { s } = open(['test/wanted']);
    await connected(s);
    const parse = sinon.spy(JSON, 'parse');
    try {
      for (let i = 0; i < 20; i++) sb.master.bus.fire('other/unwanted', { i });
      sb.master.bus.fire('test/wanted', { n: 7 });
      const e = await s.waitFor((x) => x.tag === 'test/wanted');
      assert.equal(e.raw.data.n, 7);
      const unwanted = parse.getCalls().filter((c) => String(c.args[0]).includes('other/unwanted'));
      assert.equal(unwanted.length, 0, 'no unwanted event was parsed');
      assert.ok(parse.getCalls().some((c) => String(c.args[0]).includes('test/wanted')));
    } finally {
      parse.restore();
    }
  });

  it('reconnects after the stream is cut, waiting the server retry hint', async () => {
    const { s } = open(['test/*']);
    await connected(s);
    const again = new Promise<void>((r) => s.once('reconnected', () => r()));
    sb.api.dropConnections();
    await again;
    sb.master.bus.fire('test/after-reconnect', { n: 1 });
    const e = await s.waitFor((x) => x.tag === 'test/after-reconnect');
    assert.equal(e.raw.data.n, 1);
    assert.equal(s.opens, 2);
  });

  it('logs in again when the token expires mid-stream and keeps delivering', async () => {
    const { c, s } = open(['test/*']);
    await connected(s);
    const first = c.currentSession!.token;
    sb.api.expireAllTokens();
    const again = new Promise<void>((r) => s.once('reconnected', () => r()));
    sb.master.bus.fire('test/ends-the-expired-stream', {}); // salt-api checks the token on each event
    await again;
    assert.notEqual(c.currentSession!.token, first);
    sb.master.bus.fire('test/after-relogin', { ok: true });
    const e: SaltEvent = await s.waitFor((x) => x.tag === 'test/after-relogin');
    assert.equal(e.raw.data.ok, true);
  });

  it('fails with SALTAPI_AUTH_DENIED when the credentials stop working', async () => {
    const users: Record<string, string> = { ops: 'first' };
    const api = await startSaltApiEmulator({ master: sb.master, users });
    closers.push(() => api.close());
    const c = new SaltApiClient({
      url: api.url,
      username: 'ops',
      password: async () => (users.ops === 'first' ? 'first' : 'stale'),
      eauth: 'sharedsecret',
    });
    const s = openSaltEvents(c);
    closers.push(
      () => c.close(),
      () => s.close(),
    );
    await connected(s);
    users.ops = 'rotated';
    api.expireAllTokens();
    sb.master.bus.fire('test/x', {});
    await assert.rejects(
      s.waitFor(() => false, 10_000),
      (e: unknown) => hasCode(e, 'SALTAPI_AUTH_DENIED'),
    );
  });
});
