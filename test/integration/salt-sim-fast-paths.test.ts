// The master simulator's fleet-scale fast paths (sim-cpu) must not change what it does as seen from
// outside: `_auth` decides from the same files in the same order, salt-api's JSON keeps Python's
// bytes, a job wait ends exactly when every expected minion returned, one publish load reaches every
// target, and /events delivers every event, in order, even when hundreds fire in one loop turn.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import { SaltEventBus } from '../../sandbox/salt/event-bus.js';
import { JobCache } from '../../sandbox/salt/master-jobs.js';
import { decideAuth } from '../../sandbox/salt/master-auth.js';
import { genRsaPair, KEY_STATUSES, MasterPki } from '../../sandbox/salt/master-pki.js';
import { checkMasterProof, proveMaster } from '../../sandbox/salt/master-crypto.js';
import { pyJson, pyStamp } from '../../sandbox/salt/pyjson.js';
import { readMessages, sendMessage, type WireMessage } from '../../sandbox/salt/wire.js';
import { startSaltSandbox } from '../../sandbox/saltapi-emulator/sandbox.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

describe('salt master simulator: fast paths keep Salt’s behaviour', () => {
  it('lookup gives what statusOf + keyOf give, for every mix of folders holding the id', async () => {
    const { dir, cleanup } = await makeTmpDir();
    try {
      const pki = new MasterPki(dir);
      await pki.ensure();
      // every subset of the four folders, each holding a distinct text
      for (let mask = 0; mask < 16; mask++) {
        const id = `m${mask}`;
        for (const [k, s] of KEY_STATUSES.entries())
          if (mask & (1 << k)) await writeFile(pki.path(s, id), `${s}:${id}`);
        const status = await pki.statusOf(id);
        const want = status ? { status, text: await pki.keyOf(status, id) } : undefined;
        assert.deepEqual(pki.lookup(id), want, `folders ${mask.toString(2)}`);
      }
      // a folder where the key should be (exists, unreadable as a file): found, no text — as before
      await mkdir(pki.path('minions_pre', 'odd'));
      assert.deepEqual(pki.lookup('odd'), { status: 'minions_pre', text: undefined });
      assert.equal(await pki.keyOf('minions_pre', 'odd'), undefined);
    } finally {
      await cleanup();
    }
  });

  it('_auth from the files: new key pending, same key retried pending, other key denied, accepted with proof', async () => {
    const { dir, cleanup } = await makeTmpDir();
    try {
      const pki = new MasterPki(dir);
      await pki.ensure();
      const bus = new SaltEventBus();
      const keys = { pem: await pki.read('master.pem'), pub: await pki.read('master.pub') };
      const mine = genRsaPair().pub;
      const other = genRsaPair().pub;
      const acts: unknown[] = [];
      bus.subscribe((e) => acts.push(e.data.act));
      const auth = (pub: string, nonce = 'n1') => decideAuth(pki, bus, keys, false, { id: 'r1', pub, nonce });
      assert.equal((await auth(mine)).ret, 'retry');
      assert.equal(await pki.keyOf('minions_pre', 'r1'), mine, 'written where Salt keeps pending keys');
      assert.equal((await auth(`${mine.trim()}\r\n`)).ret, 'retry', 'clean_key comparison');
      assert.equal((await auth(other)).ret, false);
      assert.equal(await pki.keyOf('minions_denied', 'r1'), other);
      await pki.move('r1', 'minions_pre', 'minions');
      const ok = await auth(mine, 'nonce-2');
      assert.equal(ok.ret, true);
      assert.ok(checkMasterProof(keys.pub, 'nonce-2', ok.proof), 'proof over this nonce by master.pem');
      assert.ok(!checkMasterProof(keys.pub, 'nonce-1', ok.proof), 'not over another nonce');
      assert.ok(!checkMasterProof(other, 'nonce-2', ok.proof), 'not by another key');
      assert.ok(!checkMasterProof('not a key', 'nonce-2', ok.proof));
      assert.equal(proveMaster(keys.pem, 'x'), proveMaster(keys.pem, 'x'), 'PKCS#1 v1.5: deterministic');
      assert.deepEqual(acts, ['pend', 'pend', 'denied', 'accept', undefined]);
      // a key only in minions_denied is a new key to Salt: pending
      await writeFile(pki.path('minions_denied', 'r2'), other);
      assert.equal((await decideAuth(pki, bus, keys, false, { id: 'r2', pub: mine })).ret, 'retry');
      assert.equal(await pki.keyOf('minions_pre', 'r2'), mine);
      // Regression (accepted checked first): Salt refuses a key that is also in minions_rejected.
      await writeFile(pki.path('minions_rejected', 'r1'), mine);
      assert.equal((await auth(mine, 'nonce-3')).ret, false);
    } finally {
      await cleanup();
    }
  });

  it('pyJson writes what Python json.dumps writes', () => {
    const proto = { inherited: 1 };
    const o = Object.assign(Object.create(proto) as Record<string, unknown>, { b: 1, a: undefined, 2: 'x', 1: 'y' });
    Object.defineProperty(o, 'hidden', { value: 1, enumerable: false });
    assert.equal(pyJson(o), '{"1": "y", "2": "x", "b": 1}');
    assert.equal(
      pyJson({ s: 'é☃\u007f\n"\\\u0001', e: '\ud83d\ude00', l: [1, 2.5, null, undefined, true, [], {}], n: NaN }),
      '{"s": "\\u00e9\\u2603\\u007f\\n\\"\\\\\\u0001", "e": "\\ud83d\\ude00", "l": [1, 2.5, null, null, true, [], {}], "n": NaN}',
    );
    assert.match(pyStamp(new Date('2026-12-01T16:00:00.123Z')), /^2026-12-01T16:00:00\.123\d{3}$/);
  });

  it('a job wait ends when the last expected minion returns, ignoring others; or at its timeout', async () => {
    const jobs = new JobCache(new SaltEventBus());
    const job = jobs.create({ fun: 'test.ping', arg: [], tgt: '*', tgtType: 'glob', user: 'root', minions: [] });
    const ids = Array.from({ length: 50 }, (_, i) => `m${i}`);
    const ret = { return: true, retcode: 0, success: true };
    jobs.addReturn(job.jid, 'm7', ret, []);
    let done = false;
    const waiting = jobs.wait(job, ids, 60_000).then(() => (done = true));
    for (const id of [...ids].reverse()) {
      if (id === 'm0') continue;
      jobs.addReturn(job.jid, id, ret, []);
      jobs.addReturn(job.jid, 'stranger', ret, []);
    }
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false, 'm0 has not returned');
    jobs.addReturn(job.jid, 'm0', ret, []);
    await waiting;
    assert.equal(job.returns.size, 51);
    await jobs.wait(job, ['never'], 50); // resolved by its timeout
    await jobs.wait(job, ids, 60_000); // all there: at once
  });

  it('one publish load reaches every target minion byte for byte; /events carries every event of a burst in order', async function () {
    this.timeout(30_000);
    const { dir, cleanup } = await makeTmpDir();
    const sb = await startSaltSandbox({ root: dir, masterConfig: { auto_accept: true } });
    const sockets: ReturnType<typeof connect>[] = [];
    try {
      const got = new Map<string, string[]>();
      for (const id of ['p1', 'p2', 'p3']) {
        const s = connect(sb.master.address.port, sb.master.address.host);
        sockets.push(s);
        got.set(id, []);
        await new Promise<void>((resolve) => {
          readMessages(s, (m: WireMessage) => {
            if (m.cmd === '_auth_reply') {
              sendMessage(s, { cmd: '_subscribe', id });
              resolve();
            }
            if (m.cmd === 'publish') {
              got.get(id)!.push(JSON.stringify(m));
              sendMessage(s, { cmd: '_return', jid: m.jid, id, return: true, retcode: 0, fun_args: [] });
            }
          });
          s.on('connect', () => sendMessage(s, { cmd: '_auth', id, pub: genRsaPair(1024).pub }));
        });
        await sb.master.waitForMinion(id);
      }
      const r = await sb.master.publish({ tgt: ['p1', 'p3'], tgtType: 'list', fun: 'test.ping', timeout: 10 });
      assert.deepEqual(Object.fromEntries(r.returns), { p1: true, p3: true });
      assert.equal(got.get('p2')!.length, 0, 'not targeted');
      assert.equal(got.get('p1')![0], got.get('p3')![0]);
      assert.deepEqual(JSON.parse(got.get('p1')![0]!).tgt, ['p1', 'p3']);

      // /events: 300 events fired in one turn, then the token expires: all 300 arrive, then the end
      const login = await fetch(`${sb.url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ username: sb.username, password: sb.secret, eauth: sb.eauth }),
      });
      const token = ((await login.json()) as { return: [{ token: string }] }).return[0].token;
      const res = await fetch(`${sb.url}/events`, { headers: { 'x-auth-token': token } });
      const reader = res.body!.getReader();
      let text = '';
      const readUntil = async (pred: () => boolean): Promise<boolean> => {
        while (!pred()) {
          const { value, done } = await reader.read();
          if (done) return false;
          text += Buffer.from(value).toString('utf8');
        }
        return true;
      };
      await readUntil(() => text.includes('retry: 400\n'));
      for (let i = 0; i < 300; i++) sb.master.bus.fire(`burst/${i}`, { i });
      await readUntil(() => text.includes('tag: burst/299\n'));
      const tags = [...text.matchAll(/^tag: (burst\/\d+)$/gm)].map((m) => m[1]);
      assert.deepEqual(
        tags,
        Array.from({ length: 300 }, (_, i) => `burst/${i}`),
      );
      for (const i of [0, 150, 299]) {
        const line = new RegExp(`tag: burst/${i}\\ndata: (.*)\\n\\n`).exec(text)![1]!;
        const ev = JSON.parse(line) as { data: { i: number; _stamp: string }; tag: string };
        assert.equal(line, pyJson({ data: { i, _stamp: ev.data._stamp }, tag: `burst/${i}` }));
      }
      sb.api.expireAllTokens();
      sb.master.bus.fire('after/expiry', {});
      assert.equal(await readUntil(() => false), false, 'the stream ends once the token has expired');
      assert.ok(!text.includes('after/expiry'));
    } finally {
      for (const s of sockets) s.destroy();
      await sb.close();
      await cleanup();
    }
  });
});
