import assert from 'node:assert/strict';
import { Response } from 'node-fetch';
import { SaltApiClient } from '../../../../conductor-agent/saltapi/client.js';
import type { FetchLike } from '../../../../conductor-agent/saltapi/transport.js';
import { hasCode } from '../../../../shared/errors.js';
import type { Clock } from '../../../../shared/ports/clock.js';
import { systemRandom } from '../../../../shared/ports/random.js';

const LOGIN = (token: string, expire = 4e9): Response =>
  new Response(JSON.stringify({ return: [{ token, expire, start: 1, user: 'u', eauth: 'pam', perms: [] }] }), {
    status: 200,
    headers: { 'Content-Type': 'application/json' },
  });
const OK = (body: unknown): Response =>
  new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });
const PAGE = (status: number, msg: string): Response =>
  new Response(`<html><h2>${status} X</h2><p>${msg}</p></html>`, {
    status,
    headers: { 'Content-Type': 'text/html;charset=utf-8' },
  });

function fakeClock(now = 1_000_000): Clock & { slept: number[]; t: number } {
  const c = {
    t: now,
    slept: [] as number[],
    now: () => c.t,
    setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
    clearTimeout: (t: NodeJS.Timeout) => clearTimeout(t),
    sleep: async (ms: number) => {
      c.slept.push(ms);
    },
  };
  return c;
}

function scripted(handlers: Record<string, Array<() => Response>>): FetchLike & { calls: string[] } {
  const calls: string[] = [];
  const f = (async (url: string, init: { method?: string; headers?: Record<string, string> }) => {
    const path = new URL(url).pathname;
    calls.push(`${init.method ?? 'GET'} ${path} ${init.headers?.['X-Auth-Token'] ?? ''}`.trim());
    const queue = handlers[path];
    const next = queue && queue.length > 1 ? queue.shift()! : queue?.[0];
    if (!next) throw new Error(`unexpected ${path}`);
    return next();
  }) as unknown as FetchLike & { calls: string[] };
  f.calls = calls;
  return f;
}

const make = (fetch: FetchLike, clock: Clock, extra: Record<string, unknown> = {}) =>
  new SaltApiClient({
    url: 'http://127.0.0.1:8000',
    username: 'u',
    password: 'p',
    eauth: 'pam',
    fetch,
    clock,
    random: { ...systemRandom, float: () => 0.5 },
    backoff: { baseMs: 100, maxMs: 300 },
    ...extra,
  });

describe('conductor-agent/saltapi/http (session reuse, re-login, backoff)', () => {
  it('retries 503 with capped, jittered exponential backoff', async () => {
    const clock = fakeClock();
    const f = scripted({
      '/login': [() => LOGIN('aa')],
      '/keys': [
        () => PAGE(503, 'Salt Master is not available.'),
        () => PAGE(503, 'x'),
        () => PAGE(503, 'x'),
        () => PAGE(503, 'x'),
        () => OK({ return: { minions: [] } }),
      ],
    });
    const c = make(f, clock);
    assert.deepEqual(await c.keys(), { minions: [] });
    assert.deepEqual(clock.slept, [75, 150, 225, 225]); // min(300, 100·2^n) × (0.5 + 0.5·0.5)
  });

  it('stops after the configured retries with the typed error', async () => {
    const clock = fakeClock();
    const f = scripted({ '/login': [() => LOGIN('aa')], '/keys': [() => PAGE(503, 'x')] });
    await assert.rejects(make(f, clock, { retries: 2 }).keys(), (e: unknown) => hasCode(e, 'SALTAPI_UNAVAILABLE'));
    assert.equal(clock.slept.length, 2);
  });

  it('logs in again once on 401, then gives up with SALTAPI_AUTH_DENIED', async () => {
    const f = scripted({
      '/login': [() => LOGIN('aa'), () => LOGIN('bb'), () => LOGIN('cc')],
      '/keys': [() => PAGE(401, 'No permission'), () => OK({ return: { minions: ['m'] } })],
    });
    const c = make(f, fakeClock());
    assert.deepEqual(await c.keys(), { minions: ['m'] });
    assert.deepEqual(f.calls, ['POST /login', 'GET /keys aa', 'POST /login', 'GET /keys bb']);
    const g = scripted({ '/login': [() => LOGIN('aa')], '/keys': [() => PAGE(401, 'No permission')] });
    await assert.rejects(make(g, fakeClock()).keys(), (e: unknown) => hasCode(e, 'SALTAPI_AUTH_DENIED'));
    assert.equal(g.calls.filter((x) => x === 'POST /login').length, 2);
  });

  it('concurrent calls share one login; an expiring token is renewed before use', async () => {
    const clock = fakeClock(1_000_000);
    const f = scripted({
      '/login': [() => LOGIN('aa', 1_000 + 60), () => LOGIN('bb', 1_000 + 60 + 3600)],
      '/keys': [() => OK({ return: {} })],
    });
    const c = make(f, clock);
    await Promise.all([c.keys(), c.keys(), c.keys()]);
    assert.equal(f.calls.filter((x) => x === 'POST /login').length, 1);
    clock.t = (1_000 + 58) * 1000; // within 5 s of expiry
    await c.keys();
    assert.equal(f.calls.at(-1), 'GET /keys bb');
  });

  it('a wrong body shape is SALTAPI_BAD_PAYLOAD, not a crash', async () => {
    const f = scripted({
      '/login': [() => LOGIN('aa')],
      '/': [() => OK({ return: 'not a list' })],
      '/keys': [() => OK({ return: ['a', 'list'] })],
    });
    const c = make(f, fakeClock());
    await assert.rejects(c.local('*', 'test.ping'), (e: unknown) => hasCode(e, 'SALTAPI_BAD_PAYLOAD'));
    await assert.rejects(c.keys(), (e: unknown) => hasCode(e, 'SALTAPI_BAD_PAYLOAD'));
  });

  it('sends a list target as tgt_type list and the local timeout', async () => {
    let sent: unknown;
    const f = (async (url: string, init: { body?: string }) => {
      if (url.endsWith('/login')) return LOGIN('aa');
      sent = JSON.parse(init.body!);
      return OK({ return: [{ a: true, b: false }] });
    }) as unknown as FetchLike;
    const r = await make(f, fakeClock()).local(['a', 'b'], 'test.ping', [], { timeout: 7 });
    assert.deepEqual(r, { a: true, b: false });
    assert.deepEqual(sent, [
      { client: 'local', tgt: ['a', 'b'], fun: 'test.ping', arg: [], tgt_type: 'list', timeout: 7 },
    ]);
  });
});
