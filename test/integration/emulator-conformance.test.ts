// Replays the recorded salt-api 3006.18 exchanges (test/fixtures/captures) against the emulator and
// pins each wire detail: status, content type, headers present, HTML error pages byte for byte,
// JSON shapes (volatile values masked) and Python's JSON formatting, SSE and /ws framing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { WebSocket } from 'ws';
import { readCapture } from '../fixtures/captures/read-capture.js';
import { startSaltSandbox, type SaltSandbox } from '../../sandbox/saltapi-emulator/sandbox.js';
import { fixtureArgv } from '../../sandbox/salt/entry.js';
import { runMinionInProcess, writeSimRouter, type SimRouterPaths } from '../../sandbox/salt/minion-setup.js';
import { pyJson } from '../../sandbox/salt/pyjson.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

const SECRET = 'rig-shared-secret';
const CAPTURED_TOKEN = '7df073232b67af18bdbdcff9be6ed9346a6e0952';
const VOLATILE = new Set(['jid', '_stamp', 'token', 'expire', 'start', 'ts', 'StartTime', '__pub_pid', '__pub_jid']);

/** Mask per-run values and sort keys, so two answers compare by shape and stable values. */
function norm(v: unknown, key = ''): unknown {
  if (VOLATILE.has(key)) return `<${key}>`;
  if (typeof v === 'string') {
    if (/^([0-9a-f]{2}:){31}[0-9a-f]{2}$/.test(v)) return '<fp>';
    if (v.includes('-----BEGIN')) return '<pem>';
    return v.replace(/\d{20}/g, '<jid>');
  }
  if (Array.isArray(v)) return v.map((x) => norm(x));
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v)
        .map(([k, x]) => [k.replace(/^\d{20}$/, '<jid>'), norm(x, k)] as const)
        .sort(([a], [b]) => a.localeCompare(b)),
    );
  }
  return v;
}

/** Parse the curl line of a capture: method, path, headers, data. */
function parseRequest(line: string): { method: string; path: string; headers: Record<string, string>; data?: string } {
  const method = /-X (\w+)/.exec(line)?.[1] ?? 'GET';
  const url = /(https?:\/\/\S+)/.exec(line)![1]!;
  const headers: Record<string, string> = {};
  for (const m of line.matchAll(/-H ([\w-]+): (.*?)(?= -H | -d |$)/g)) headers[m[1]!] = m[2]!;
  const d = / -d (.*)$/.exec(line)?.[1];
  return { method, path: new URL(url).pathname, headers, ...(d !== undefined ? { data: d } : {}) };
}

describe('salt-api emulator conformance (captures salt-api-3006.18)', function () {
  this.timeout(60_000);
  let sb: SaltSandbox;
  let cleanup: () => Promise<void>;
  let root: string;
  const minions: Array<{ stop(): Promise<number> }> = [];
  const routers: SimRouterPaths[] = [];
  const state: { token: string; jid: string } = { token: '', jid: '' };

  before(async () => {
    ({ dir: root, cleanup } = await makeTmpDir());
    sb = await startSaltSandbox({
      root,
      secret: SECRET,
      masterConfig: {
        auto_accept: true,
        netapi_enable_clients: [
          'local',
          'local_async',
          'local_batch',
          'local_subset',
          'runner',
          'runner_async',
          'wheel',
          'wheel_async',
        ],
      },
    });
    for (const id of ['router-1', 'router-2', 'router-3']) {
      const p = await writeSimRouter({ root: `${root}/${id}`, id, master: sb.master.address });
      routers.push(p);
      minions.push(runMinionInProcess(p));
    }
    for (const id of ['router-1', 'router-2', 'router-3']) await sb.master.waitForMinion(id);
  });
  after(async () => {
    for (const m of minions) await m.stop();
    await sb?.close();
    await cleanup?.();
  });

  async function replay(file: string): Promise<{ res: Response; text: string; cap: ReturnType<typeof readCapture> }> {
    const cap = readCapture(file);
    const req = parseRequest(cap.request);
    let path = req.path;
    if (file.startsWith('08-')) path = `/jobs/${state.jid}`;
    const headers = { ...req.headers };
    if (headers['X-Auth-Token'] === CAPTURED_TOKEN) headers['X-Auth-Token'] = state.token;
    const res = await fetch(sb.url + path, {
      method: req.method,
      headers,
      ...(req.data !== undefined ? { body: req.data } : {}),
    });
    return { res, text: await res.text(), cap };
  }

  function assertSameHead(res: Response, cap: ReturnType<typeof readCapture>, file: string): void {
    assert.equal(res.status, cap.status, `${file} status`);
    const capHeaders = new Map(cap.headers.map(([k, v]) => [k.toLowerCase(), v]));
    assert.equal(res.headers.get('content-type'), capHeaders.get('content-type'), `${file} content-type`);
    for (const name of capHeaders.keys()) {
      if (name === 'transfer-encoding') continue;
      assert.ok(res.headers.has(name), `${file}: header ${name} missing`);
    }
    assert.equal(res.headers.has('cache-control'), capHeaders.has('cache-control'), `${file}: cache-control presence`);
    for (const h of ['server', 'allow', 'access-control-expose-headers', 'access-control-allow-credentials', 'vary']) {
      assert.equal(res.headers.get(h), capHeaders.get(h), `${file}: ${h}`);
    }
    const cookie = res.headers.get('set-cookie') ?? '';
    if (file.startsWith('20-'))
      assert.match(cookie, /^session_id=[0-9a-f]{40}; expires=\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT; Path=\/$/);
    else
      assert.match(
        cookie,
        /^session_id=[0-9a-f]{40}; expires=\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT; Max-Age=36000; Path=\/$/,
      );
  }

  const files = [
    '01-get-root.txt',
    '02-login-ok.txt',
    '03-login-bad-password.txt',
    '04-local-test-ping.txt',
    '05-local-no-match.txt',
    '06-local-full-return.txt',
    '07-local-async.txt',
    '08-get-job.txt',
    '09-wheel-key-list-all.txt',
    '10-wheel-key-finger.txt',
    '11-wheel-finger-master.txt',
    '12-get-keys.txt',
    '13-get-keys-one.txt',
    '14-runner-manage-status.txt',
    '15-no-token.txt',
    '16-bad-token.txt',
    '17-client-disabled.txt',
    '18-bad-json.txt',
    '19-not-a-list.txt',
    '20-logout.txt',
    '21-after-logout.txt',
    '22-login-for-events.txt',
  ];

  for (const file of files) {
    it(`replays ${file}`, async () => {
      if (file.startsWith('08-')) {
        // let the async job's three returns arrive before replaying GET /jobs/<jid>
        for (let i = 0; i < 400 && (sb.master.jobs.get(state.jid)?.returns.size ?? 0) < 3; i++)
          await new Promise((r) => setTimeout(r, 25));
      }
      const { res, text, cap } = await replay(file);
      assertSameHead(res, cap, file);
      if (cap.headers.some(([k, v]) => k === 'Content-Type' && v.startsWith('text/html'))) {
        assert.equal(text, cap.body, `${file}: HTML error page byte for byte`);
        assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(cap.body)));
        return;
      }
      const ours = JSON.parse(text) as unknown;
      const theirs = JSON.parse(cap.body) as unknown;
      assert.equal(text, pyJson(ours), `${file}: Python json.dumps formatting`);
      assert.deepEqual(norm(ours), norm(theirs), `${file}: body shape`);
      if (file.startsWith('02-') || file.startsWith('22-')) {
        const info = (ours as { return: Array<Record<string, unknown>> }).return[0]!;
        assert.match(String(info.token), /^[0-9a-f]{40}$/);
        assert.equal(res.headers.get('x-auth-token'), info.token);
        assert.deepEqual(
          Object.keys(info),
          Object.keys((theirs as { return: Array<Record<string, unknown>> }).return[0]!),
          'login field order',
        );
        state.token = String(info.token);
      }
      if (file.startsWith('07-')) state.jid = (ours as { return: Array<{ jid: string }> }).return[0]!.jid;
      if (file.startsWith('09-')) {
        const data = (o: unknown): string[] =>
          Object.keys((o as { return: Array<{ data: Record<string, unknown> }> }).return[0]!.data);
        assert.deepEqual(data(ours), data(theirs), 'wheel data field order');
      }
    });
  }

  it('streams /events with the recorded framing (capture 23)', async () => {
    const cap = readCapture('23-events-stream.txt');
    const res = await fetch(`${sb.url}/events?token=${state.token}`);
    assertSameHead(res, cap, '23');
    const reader = res.body!.getReader();
    let text = '';
    const readUntil = async (pred: () => boolean): Promise<void> => {
      while (!pred()) {
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        text += new TextDecoder().decode(value);
      }
    };
    await readUntil(() => text.length >= 11);
    assert.ok(text.startsWith('retry: 400\n'), 'retry first, no blank line after it');
    await fetch(`${sb.url}/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Auth-Token': state.token },
      body: '[{"client":"local","tgt":"router-1","fun":"test.ping"}]',
    });
    const [cmd, ...args] = fixtureArgv('salt-call', [
      '-c',
      routers[0]!.configDir,
      'event.send',
      'ssr-recovery/demo',
      '{"k": 1}',
    ]);
    await promisify(execFile)(cmd!, args);
    await readUntil(() => text.includes('tag: ssr-recovery/demo\n') && text.endsWith('\n\n'));
    await reader.cancel();
    const blocks = (s: string): Array<{ tag: string; data: Record<string, unknown> }> =>
      s
        .replace(/^retry: 400\n/, '')
        .split('\n\n')
        .filter(Boolean)
        .map((b) => {
          const m = /^tag: (.*)\ndata: (.*)$/.exec(b);
          assert.ok(m, `event block framing: ${JSON.stringify(b.slice(0, 80))}`);
          const doc = JSON.parse(m[2]!) as { data: Record<string, unknown>; tag: string };
          assert.deepEqual(Object.keys(doc), ['data', 'tag']);
          assert.equal(doc.tag, m[1]);
          assert.equal(m[2], pyJson(doc));
          return doc;
        });
    const ours = blocks(text);
    const theirs = blocks(cap.body).slice(0, 6);
    const shape = (e: { tag: string; data: Record<string, unknown> }): string[] => [
      e.tag.replace(/\d{20}/g, '<jid>'),
      ...Object.keys(e.data),
    ];
    assert.deepEqual(ours.slice(-6).map(shape), theirs.map(shape));
    const demo = ours.find((e) => e.tag === 'ssr-recovery/demo')!;
    assert.equal(demo.data.id, 'router-1');
    assert.deepEqual(Object.keys(demo.data.data as object), ['__pub_fun', '__pub_pid', '__pub_jid', '__pub_tgt', 'k']);
  });

  it('serves /ws/<token> only after "websocket client ready" (capture 24)', async () => {
    const ws = new WebSocket(`${sb.url.replace('http', 'ws')}/ws/${state.token}`);
    const got: string[] = [];
    ws.on('message', (m) => got.push(m.toString()));
    await new Promise((r) => ws.once('open', r));
    sb.master.bus.fire('before/ready', { x: 1 });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(got.length, 0, 'nothing before the handshake');
    ws.send('websocket client ready');
    for (let i = 0; i < 400 && got.length < 1; i++) await new Promise((r) => setTimeout(r, 25));
    sb.master.bus.fire('after/ready', { x: 2 });
    for (let i = 0; i < 400 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 25));
    ws.close();
    assert.equal(got[0], 'server received message');
    assert.equal(
      got[1],
      `data: ${pyJson({ data: { x: 2, _stamp: JSON.parse(got[1]!.slice(6)).data._stamp }, tag: 'after/ready' })}\n\n`,
    );
  });

  it('refuses /ws with a bad token (401 HTML)', async () => {
    const ws = new WebSocket(`${sb.url.replace('http', 'ws')}/ws/deadbeef`);
    const status = await new Promise<number>((resolve) =>
      ws.on('unexpected-response', (_q, r) => resolve(r.statusCode ?? 0)),
    );
    assert.equal(status, 401);
  });
});
