// salt-api emulator and master simulator behaviour beyond the captures (reference/salt.md §1–§3):
// netapi_enable_clients, eauth tokens, /token + /run + salt_token, /minions 202, /hook auth,
// request formats, 404/405, key files and events for wheel key.* and for auth decisions.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createVerify } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { commandServiceControl } from '../../shared/ports/service-control.js';
import { cleanKey } from '../../shared/salt/fingerprint.js';
import { startSaltSandbox, type SaltSandbox } from '../../sandbox/saltapi-emulator/sandbox.js';
import { startSaltApiEmulator, type SaltApiEmulator } from '../../sandbox/saltapi-emulator/server.js';
import { genRsaPair } from '../../sandbox/salt/master-pki.js';
import { runMinionInProcess, writeSimRouter } from '../../sandbox/salt/minion-setup.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

describe('integration: salt-api emulator and master simulator behaviour', function () {
  this.timeout(30_000);
  let sb: SaltSandbox;
  let root: string;
  let cleanup: () => Promise<void>;
  let token: string;
  const stops: Array<() => Promise<unknown>> = [];

  const post = (path: string, body: string, headers: Record<string, string> = {}, base = sb.url) =>
    fetch(base + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers },
      body,
    });
  const authed = (t = token) => ({ 'X-Auth-Token': t });
  const login = async (base = sb.url): Promise<string> => {
    const r = await post(
      '/login',
      JSON.stringify({ username: sb.username, password: sb.secret, eauth: 'sharedsecret' }),
      {},
      base,
    );
    return ((await r.json()) as { return: Array<{ token: string }> }).return[0]!.token;
  };

  before(async () => {
    ({ dir: root, cleanup } = await makeTmpDir());
    sb = await startSaltSandbox({ root, masterConfig: { auto_accept: true } });
    const m = runMinionInProcess(
      await writeSimRouter({ root: join(root, 'r1'), id: 'router-1', master: sb.master.address }),
    );
    stops.push(() => m.stop());
    await sb.master.waitForMinion('router-1');
    token = await login();
  });
  after(async () => {
    for (const s of stops.reverse()) await s();
    await sb?.close();
    await cleanup?.();
  });

  it('enforces netapi_enable_clients (400 HTML) and refuses unknown clients', async () => {
    const api: SaltApiEmulator = await startSaltApiEmulator({
      master: sb.master,
      users: { [sb.username]: sb.secret },
      netapiEnableClients: ['local'],
    });
    stops.push(() => api.close());
    const t = await login(api.url);
    const wheel = await post('/', '[{"client":"wheel","fun":"key.list_all"}]', authed(t), api.url);
    assert.equal(wheel.status, 400);
    assert.match(
      await wheel.text(),
      /<p>Client disabled: 'wheel'\. Add to 'netapi_enable_clients' master config option to enable\.<\/p>/,
    );
    const keys = await fetch(`${api.url}/keys`, { headers: authed(t) });
    assert.equal(keys.status, 400, '/keys runs the wheel client');
    const bad = await post('/', '[{"client":"nosuch","fun":"x"}]', authed(t), api.url);
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /Invalid client specified: 'nosuch'/);
    const local = await post('/', '[{"client":"local","tgt":"router-1","fun":"test.ping"}]', authed(t), api.url);
    assert.deepEqual(await local.json(), { return: [{ 'router-1': true }] });
  });

  it('sessions carry the configured token lifetime; a fresh login is a new 40-hex id', async () => {
    const api = await startSaltApiEmulator({
      master: sb.master,
      users: { [sb.username]: sb.secret },
      tokenTtlSeconds: 60,
    });
    stops.push(() => api.close());
    const r = await post(
      '/login',
      JSON.stringify({ username: sb.username, password: sb.secret, eauth: 'sharedsecret' }),
      {},
      api.url,
    );
    const info = ((await r.json()) as { return: Array<{ token: string; start: number; expire: number }> }).return[0]!;
    assert.equal(Math.round(info.expire - info.start), 60);
    assert.match(info.token, /^[0-9a-f]{40}$/);
    assert.notEqual(info.token, await login(api.url));
  });

  it('/token gives a 64-hex Salt eauth token usable in /run chunks and /events?salt_token=', async () => {
    const r = await post(
      '/token',
      JSON.stringify({ username: sb.username, password: sb.secret, eauth: 'sharedsecret' }),
    );
    const [t] = (await r.json()) as Array<{ token: string; name: string }>;
    assert.match(t!.token, /^[0-9a-f]{64}$/);
    assert.equal(t!.name, sb.username);
    const run = await post(
      '/run',
      JSON.stringify([{ client: 'local', tgt: 'router-1', fun: 'test.ping', token: t!.token }]),
    );
    assert.deepEqual(await run.json(), { return: [{ 'router-1': true }] });
    const noCreds = await post('/run', '[{"client":"local","tgt":"*","fun":"test.ping"}]');
    assert.equal(noCreds.status, 401);
    const ac = new AbortController();
    const ev = await fetch(`${sb.url}/events?salt_token=${t!.token}`, { signal: ac.signal });
    assert.equal(ev.status, 200);
    ac.abort();
    const missing = await post('/token', '{"username":"x"}');
    assert.equal(missing.status, 400);
  });

  it('POST /minions forces local_async: 202 with _links to the job', async () => {
    const r = await post('/minions', '[{"tgt":"router-1","fun":"test.ping"}]', authed());
    assert.equal(r.status, 202);
    const doc = (await r.json()) as {
      return: Array<{ jid: string; minions: string[] }>;
      _links: { jobs: Array<{ href: string }> };
    };
    assert.deepEqual(doc.return[0]!.minions, ['router-1']);
    assert.equal(doc._links.jobs[0]!.href, `/jobs/${doc.return[0]!.jid}`);
  });

  it('accepts urlencoded (repeated arg → list) and YAML bodies, answers YAML on request', async () => {
    const form = await fetch(`${sb.url}/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...authed() },
      body: 'client=local&tgt=router-1&fun=config.get&arg=id',
    });
    assert.deepEqual(await form.json(), { return: [{ 'router-1': 'router-1' }] });
    const yaml = await fetch(`${sb.url}/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-yaml', Accept: 'application/x-yaml', ...authed() },
      body: '- client: local\n  tgt: router-1\n  fun: test.ping\n',
    });
    assert.equal(yaml.headers.get('content-type'), 'application/x-yaml');
    assert.deepEqual(parseYaml(await yaml.text()), { return: [{ 'router-1': true }] });
    const unsupported = await fetch(`${sb.url}/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/xml', ...authed() },
      body: '<x/>',
    });
    assert.equal(unsupported.status, 406);
    const notList = await post('/', '"test.ping"', authed());
    assert.equal(notList.status, 400);
    assert.match(await notList.text(), /Lowstates must be a list/);
  });

  it('/hook needs a session and fires salt/netapi/hook/<path> with body, post and headers', async () => {
    assert.equal((await post('/hook/x', '{}')).status, 401);
    const seen = sb.master.bus.waitFor((e) => e.tag === 'salt/netapi/hook/a/b');
    const r = await post('/hook/a/b', '{"k": 2}', authed());
    assert.deepEqual(await r.json(), { success: true });
    const e = await seen;
    assert.equal(e.data.body, '{"k": 2}');
    assert.deepEqual(e.data.post, { k: 2 });
  });

  it('404 for unknown paths and 405 with Allow for unsupported methods, as HTML pages', async () => {
    const nf = await fetch(`${sb.url}/nosuch`);
    assert.equal(nf.status, 404);
    assert.match(await nf.text(), /<p>The path '\/nosuch' was not found\.<\/p>/);
    const na = await fetch(`${sb.url}/`, { method: 'DELETE' });
    assert.equal(na.status, 405);
    assert.equal(na.headers.get('allow'), 'GET, HEAD, POST');
  });

  it('wheel key.reject / key.delete / key.gen_accept change the real files and fire salt/key', async () => {
    const pki = sb.pkiDir;
    await sb.master.pki.writeMinionKey('minions_pre', 'p1', genRsaPair().pub);
    const rej = sb.master.bus.waitFor((e) => e.tag === 'salt/key' && e.data.act === 'reject');
    await post('/', '[{"client":"wheel","fun":"key.reject","match":"p1"}]', authed());
    assert.deepEqual((await rej).data, { result: true, act: 'reject', id: 'p1', _stamp: (await rej).data._stamp });
    assert.ok(existsSync(join(pki, 'minions_rejected/p1')));
    const del = sb.master.bus.waitFor((e) => e.tag === 'salt/key' && e.data.act === 'delete');
    await post('/', '[{"client":"wheel","fun":"key.delete","match":"p1"}]', authed());
    await del;
    assert.ok(!existsSync(join(pki, 'minions_rejected/p1')));
    const gen = await post('/', '[{"client":"wheel","fun":"key.gen_accept","id_":"g1"}]', authed());
    const ret = ((await gen.json()) as { return: Array<{ data: { return: { pub: string } } }> }).return[0]!.data.return;
    assert.equal(readFileSync(join(pki, 'minions/g1'), 'utf8'), ret.pub);
    const again = await post('/', '[{"client":"wheel","fun":"key.gen_accept","id_":"g1"}]', authed());
    assert.deepEqual(
      ((await again.json()) as { return: Array<{ data: { return: unknown } }> }).return[0]!.data.return,
      {},
    );
  });

  it('a minion presenting another key for an accepted id is denied (minions_denied, act denied) and exits 77', async () => {
    await sb.master.pki.writeMinionKey('minions', 'imposter', genRsaPair().pub);
    const p = await writeSimRouter({ root: join(root, 'imp'), id: 'imposter', master: sb.master.address });
    const denied = sb.master.bus.waitFor((e) => e.tag === 'salt/auth' && e.data.id === 'imposter');
    const m = runMinionInProcess(p);
    assert.equal(await m.exit, 77);
    const e = await denied;
    assert.equal(e.data.act, 'denied');
    assert.equal(e.data.result, false);
    assert.equal(
      readFileSync(join(sb.pkiDir, 'minions_denied/imposter'), 'utf8'),
      readFileSync(join(p.pkiDir, 'minion.pub'), 'utf8'),
    );
  });

  it('deleting a connected minion key drops it; it signs in again (re-accepted under auto_accept)', async () => {
    const again = sb.master.bus.waitFor(
      (e) => e.tag === 'salt/auth' && e.data.id === 'router-1' && e.data.act === 'accept',
    );
    await post('/', '[{"client":"wheel","fun":"key.delete","match":"router-1"}]', authed());
    await again;
    await sb.master.waitForMinion('router-1');
    assert.ok(existsSync(join(sb.pkiDir, 'minions/router-1')));
  });

  it('wheel key.gen_signature signs the raw master.pub (trailing newline) and refuses to overwrite', async () => {
    const gen = async (): Promise<unknown> => {
      const r = await post('/', '[{"client":"wheel","fun":"key.gen_signature","auto_create":true}]', authed());
      return ((await r.json()) as { return: Array<{ data: { return: unknown } }> }).return[0]!.data.return;
    };
    assert.equal(await gen(), true);
    assert.equal(await gen(), false);
    const sig = Buffer.from(readFileSync(join(sb.pkiDir, 'master_pubkey_signature'), 'utf8'), 'base64');
    const signPub = readFileSync(join(sb.pkiDir, 'master_sign.pub'), 'utf8');
    const pubText = readFileSync(join(sb.pkiDir, 'master.pub'), 'utf8');
    assert.ok(createVerify('RSA-SHA1').update(pubText).verify(signPub, sig), 'over the raw file');
    assert.ok(
      !createVerify('RSA-SHA1').update(cleanKey(pubText)).verify(signPub, sig),
      'not over clean_key: minions reject it',
    );
  });

  it('the sandbox salt-master service command lines drive the master like systemctl', async () => {
    const svc = commandServiceControl({ name: 'salt-master', unit: 'salt-master', commands: sb.masterServiceCommands });
    assert.equal(await svc.isActive(), true);
    await svc.stop();
    assert.equal(sb.master.running, false);
    assert.equal(await svc.isActive(), false);
    await svc.start();
    await svc.restart();
    assert.equal(await svc.isActive(), true);
    await sb.master.waitForMinion('router-1');
  });
});
