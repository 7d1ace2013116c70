// The salt-api client against the emulator over real HTTP(S) on loopback: every endpoint, the
// error paths (HTML bodies, 401 re-login, 503/504 retries, disabled client, timeouts, TLS pinning).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { SaltApiClient, type SaltApiClientOptions } from '../../conductor-agent/saltapi/client.js';
import { hasCode } from '../../shared/errors.js';
import { startSaltSandbox, type SaltSandbox } from '../../sandbox/saltapi-emulator/sandbox.js';
import { startSaltApiEmulator } from '../../sandbox/saltapi-emulator/server.js';
import { genRsaPair } from '../../sandbox/salt/master-pki.js';
import { runMinionInProcess, writeSimRouter } from '../../sandbox/salt/minion-setup.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

const FAST = { baseMs: 1, maxMs: 5 };

describe('integration: salt-api client against the emulator', function () {
  this.timeout(30_000);
  let sb: SaltSandbox;
  let root: string;
  let cleanup: () => Promise<void>;
  let minion: { stop(): Promise<number> };
  const clients: SaltApiClient[] = [];
  const client = (o: Partial<SaltApiClientOptions> = {}): SaltApiClient => {
    const c = new SaltApiClient({
      url: sb.url,
      username: sb.username,
      password: sb.secret,
      eauth: 'sharedsecret',
      backoff: FAST,
      ...o,
    });
    clients.push(c);
    return c;
  };

  before(async () => {
    ({ dir: root, cleanup } = await makeTmpDir());
    sb = await startSaltSandbox({ root, masterConfig: { auto_accept: true } });
    minion = runMinionInProcess(
      await writeSimRouter({ root: join(root, 'r1'), id: 'router-1', master: sb.master.address }),
    );
    await sb.master.waitForMinion('router-1');
    // an accepted key whose minion never answers
    await sb.master.pki.writeMinionKey('minions', 'ghost', genRsaPair().pub);
  });
  after(async () => {
    for (const c of clients) await c.close();
    await minion?.stop();
    await sb?.close();
    await cleanup?.();
  });

  describe('endpoints', () => {
    it('GET / lists the clients without logging in', async () => {
      const c = client();
      const r = await c.root();
      assert.equal(r.return, 'Welcome');
      assert.ok(r.clients.includes('wheel'));
      assert.equal(c.currentSession, undefined);
    });

    it('logs in once and reuses the 40-hex session token', async () => {
      const c = client();
      const before = sb.api.auth.sessions.size;
      await c.keys();
      await c.keys();
      await c.local('router-1', 'test.ping');
      assert.equal(sb.api.auth.sessions.size, before + 1);
      assert.match(c.currentSession!.token, /^[0-9a-f]{40}$/);
    });

    it('local: true for the minion that answered, false for the targeted one that did not, {} for no match', async () => {
      const c = client();
      assert.deepEqual(await c.local(['router-1', 'ghost'], 'test.ping', [], { timeout: 5 }), {
        'router-1': true,
        ghost: false,
      });
      assert.deepEqual(await c.local('nosuch-*', 'test.ping'), {});
      const full = await c.localFull('router-1', 'test.ping');
      assert.ok(
        full['router-1'] &&
          full['router-1'].ret === true &&
          full['router-1'].retcode === 0 &&
          /^\d{20}$/.test(full['router-1'].jid),
      );
      assert.deepEqual(await c.localBatch('router-1', 'test.ping', '10%'), { 'router-1': true });
      assert.equal(await c.local('router-1', 'config.get', ['id']).then((r) => r['router-1']), 'router-1');
    });

    it('local_async returns the job, GET /jobs/<jid> its result; no match gives null', async () => {
      const c = client();
      const job = await c.localAsync('router-1', 'test.ping');
      assert.ok(job && /^\d{20}$/.test(job.jid));
      assert.deepEqual(job.minions, ['router-1']);
      let lookup = await c.job(job.jid);
      for (let i = 0; i < 50 && !('router-1' in lookup.return[0]!); i++) {
        await new Promise((r) => setTimeout(r, 20));
        lookup = await c.job(job.jid);
      }
      assert.deepEqual(lookup.return, [{ 'router-1': true }]);
      assert.equal(lookup.info[0]!.Function, 'test.ping');
      assert.ok(job.jid in (await c.jobs()));
      assert.equal(await c.localAsync('nosuch', 'test.ping'), null);
    });

    it('runner manage.status and GET /minions', async () => {
      const c = client();
      assert.deepEqual(await c.runner('manage.status', { timeout: 5 }), { up: ['router-1'], down: ['ghost'] });
      const grains = await c.minions('router-1');
      assert.equal((grains['router-1'] as { id: string }).id, 'router-1');
    });

    it('wheel results come wrapped in {tag, data: {return, success}}; key.accept moves the real key file', async () => {
      const c = client();
      await sb.master.pki.writeMinionKey('minions_pre', 'router-new', genRsaPair().pub);
      const w = await c.wheel<{ minions: string[] }>('key.accept', { match: 'router-new' });
      assert.match(w.tag, /^salt\/wheel\/\d{20}$/);
      assert.deepEqual(w.data.return, { minions: ['router-new'] });
      assert.equal(w.data.success, true);
      assert.ok(
        existsSync(join(sb.pkiDir, 'minions/router-new')) && !existsSync(join(sb.pkiDir, 'minions_pre/router-new')),
      );
      assert.ok((await c.keys()).minions.includes('router-new'));
      const fp = (await c.keyFinger('router-new')).minions?.['router-new'];
      assert.match(fp ?? '', /^([0-9a-f]{2}:){31}[0-9a-f]{2}$/);
      assert.deepEqual(await c.wheelReturn('key.delete', { match: 'router-new' }), {});
      await assert.rejects(c.wheelReturn('key.nosuch'), (e: unknown) => hasCode(e, 'SALTAPI_BAD_PAYLOAD'));
    });

    it('POST /hook fires salt/netapi/hook/<path> and /run works with eauth credentials and no session', async () => {
      const c = client();
      const seen = sb.master.bus.waitFor((e) => e.tag === 'salt/netapi/hook/ssr/test');
      await c.hook('ssr/test', { a: 1 });
      assert.deepEqual((await seen).data.post, { a: 1 });
      const fresh = client();
      const [r] = await fresh.run([{ client: 'local', tgt: 'router-1', fun: 'test.ping' }]);
      assert.deepEqual(r, { 'router-1': true });
      assert.equal(fresh.currentSession, undefined);
    });
  });

  describe('errors', () => {
    it('wrong password → SALTAPI_AUTH_DENIED (parsed from the HTML page), without looping', async () => {
      const c = client({ password: 'wrong' });
      await assert.rejects(
        c.keys(),
        (e: unknown) =>
          hasCode(e, 'SALTAPI_AUTH_DENIED') &&
          e.details.message === 'Could not authenticate using provided credentials',
      );
    });

    it('a client not in netapi_enable_clients → SALTAPI_CLIENT_DISABLED', async () => {
      await assert.rejects(client().low([{ client: 'ssh', tgt: '*', fun: 'test.ping' }]), (e: unknown) =>
        hasCode(e, 'SALTAPI_CLIENT_DISABLED'),
      );
    });

    it('logs in again on 401 when the session expired or salt-api forgot it (restart)', async () => {
      const c = client();
      await c.keys();
      const first = c.currentSession!.token;
      sb.api.expireAllTokens();
      assert.ok((await c.keys()).minions.includes('router-1'));
      const second = c.currentSession!.token;
      assert.notEqual(second, first);
      sb.api.dropConnections(true);
      await c.keys();
      assert.notEqual(c.currentSession!.token, second);
    });

    it('retries 503 and 504 with backoff, then succeeds', async () => {
      const c = client();
      sb.api.injectFault({ status: 503, message: 'Salt Master is not available.', count: 2, path: /^\/keys$/ });
      sb.api.injectFault({ status: 504, count: 1, path: /^\/keys$/ });
      assert.ok((await c.keys()).minions.includes('router-1'));
    });

    it('gives up after the retries with SALTAPI_UNAVAILABLE when the master stays down', async () => {
      const c = client({ retries: 2 });
      await sb.master.stop();
      try {
        await assert.rejects(
          c.local('*', 'test.ping'),
          (e: unknown) => hasCode(e, 'SALTAPI_UNAVAILABLE') && e.details.message === 'Salt Master is not available.',
        );
      } finally {
        await sb.master.start();
      }
      await sb.master.waitForMinion('router-1');
    });

    it('a persistent 504 ends as SALTAPI_TIMEOUT', async () => {
      sb.api.injectFault({ status: 504, count: 3, path: /^\/keys$/ });
      await assert.rejects(client({ retries: 2 }).keys(), (e: unknown) => hasCode(e, 'SALTAPI_TIMEOUT'));
    });
  });

  describe('transport failures', () => {
    let silent: TcpServer;
    let html: Server;
    const sockets: Socket[] = [];
    before(async () => {
      silent = createTcpServer((s) => sockets.push(s)); // accepts, never answers
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
      html = createServer((_q, res) => {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end('<html>login portal</html>');
      });
      await new Promise<void>((r) => html.listen(0, '127.0.0.1', () => r()));
    });
    after(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
      await new Promise((r) => html.close(r));
    });

    it('honours the timeout (SALTAPI_TIMEOUT) and does not retry its own timeout', async () => {
      const port = (silent.address() as { port: number }).port;
      const c = client({ url: `http://127.0.0.1:${port}`, timeoutMs: 200 });
      await assert.rejects(c.root(), (e: unknown) => hasCode(e, 'SALTAPI_TIMEOUT'));
      assert.equal(sockets.length, 1);
    });

    it('connection refused → SALTAPI_UNAVAILABLE', async () => {
      const c = client({ url: 'http://127.0.0.1:1', retries: 1 });
      await assert.rejects(c.root(), (e: unknown) => hasCode(e, 'SALTAPI_UNAVAILABLE'));
    });

    it('a 200 that is not JSON → SALTAPI_BAD_PAYLOAD', async () => {
      const port = (html.address() as { port: number }).port;
      await assert.rejects(client({ url: `http://127.0.0.1:${port}` }).root(), (e: unknown) =>
        hasCode(e, 'SALTAPI_BAD_PAYLOAD'),
      );
    });
  });

  describe('TLS', () => {
    it('trusts only the pinned certificate', async () => {
      const key = join(root, 'tls.key');
      const cert = join(root, 'tls.crt');
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-keyout',
          key,
          '-out',
          cert,
        ],
        { stdio: 'ignore' },
      );
      const api = await startSaltApiEmulator({
        master: sb.master,
        users: { [sb.username]: sb.secret },
        tls: { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') },
      });
      try {
        const pinned = client({ url: api.url, ca: readFileSync(cert) });
        assert.ok((await pinned.keys()).minions.includes('router-1'));
        const unpinned = client({ url: api.url, retries: 0 });
        await assert.rejects(unpinned.keys(), (e: unknown) => hasCode(e, 'SALTAPI_UNAVAILABLE'));
      } finally {
        await api.close();
      }
    });
  });
});
