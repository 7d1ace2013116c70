// The agent listener's refusals over a real wss socket on loopback: each answered with a stable
// code, the server kept running.
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { systemClock } from '../../../../shared/ports/clock.js';
import { systemRandom } from '../../../../shared/ports/random.js';
import { signEnvelope } from '../../../../shared/protocol/envelope.js';
import { generateSigningKeyPair } from '../../../../shared/protocol/signing-keys.js';
import { MAX_FRAME_BYTES, type AckFrame } from '../../../../shared/protocol/messages.js';
import { makeTmpDir } from '../../../helpers/tmpdir.js';
import { startConductorSide, until, type ConductorSide } from '../../../helpers/agents.js';
import { REPORT_NONCES_PER_ROUTER } from '../../../../conductor-agent/ws/server.js';

interface Client {
  ws: WebSocket;
  frames: Record<string, unknown>[];
  closed: Promise<number>;
  next: (pred: (f: Record<string, unknown>) => boolean) => Promise<Record<string, unknown>>;
}

function connect(url: string, options: WebSocket.ClientOptions = {}): Promise<Client> {
  const ws = new WebSocket(url, { rejectUnauthorized: false, ...options });
  const frames: Record<string, unknown>[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (d) => {
    frames.push(JSON.parse(String(d)) as Record<string, unknown>);
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  const next = async (pred: (f: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
    for (;;) {
      const f = frames.find(pred);
      if (f) return f;
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, frames, closed, next }));
    ws.once('error', reject);
  });
}

describe('conductor-agent/ws/server refusals (real wss on 127.0.0.2)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let c: ConductorSide;
  const agent = generateSigningKeyPair();
  before(async () => {
    ({ dir, cleanup } = await makeTmpDir());
    c = await startConductorSide(dir, { heartbeatMs: 150 });
    await c.registry.enroll('router-1', agent.publicPem, { source: 'salt-event' });
  });
  after(async () => {
    await c.server.close();
    await cleanup();
  });

  const hello = (
    challenge: string,
    o: { key?: ReturnType<typeof generateSigningKeyPair>; claimed?: string; router?: string } = {},
  ) => ({
    v: 1,
    type: 'hello',
    role: 'router',
    envelope: signEnvelope({
      kind: 'hello',
      router: o.router ?? 'router-1',
      body: { challenge, agentPublicKey: o.claimed ?? agent.publicPem, agentVersion: 't' },
      privateKey: (o.key ?? agent).privateKey,
      clock: systemClock,
      random: systemRandom,
    }),
  });
  const isAck = (id: string) => (f: Record<string, unknown>) => f.type === 'ack' && f.id === id;

  it('sends a challenge, accepts a signed hello, and marks the router enrolled', async () => {
    const cl = await connect(c.server.url);
    const h = await cl.next((f) => f.type === 'hello');
    cl.ws.send(JSON.stringify(hello(String(h.challenge))));
    const ack = (await cl.next(isAck('hello'))) as unknown as AckFrame;
    assert.equal(ack.ok, true);
    assert.equal(ack.enrolled, true);
    cl.ws.close();
  });

  it("refuses a hello that answers another connection's challenge (PROTOCOL_REPLAYED)", async () => {
    const cl = await connect(c.server.url);
    await cl.next((f) => f.type === 'hello');
    cl.ws.send(JSON.stringify(hello('not-this-connections-challenge')));
    assert.equal((await cl.next(isAck('hello'))).code, 'PROTOCOL_REPLAYED');
    assert.equal(await cl.closed, 4403);
  });

  it('refuses a hello signed by another key than the enrolled one (AGENT_KEY_CHANGED) or than the claimed one (PROTOCOL_BAD_SIGNATURE)', async () => {
    const other = generateSigningKeyPair();
    let cl = await connect(c.server.url);
    let h = await cl.next((f) => f.type === 'hello');
    cl.ws.send(JSON.stringify(hello(String(h.challenge), { key: other, claimed: other.publicPem })));
    assert.equal((await cl.next(isAck('hello'))).code, 'AGENT_KEY_CHANGED');
    cl = await connect(c.server.url);
    h = await cl.next((f) => f.type === 'hello');
    cl.ws.send(
      JSON.stringify(
        hello(String(h.challenge), { key: other, claimed: generateSigningKeyPair().publicPem, router: 'router-new' }),
      ),
    );
    assert.equal((await cl.next(isAck('hello'))).code, 'PROTOCOL_BAD_SIGNATURE');
  });

  it('refuses a hello naming a router id that is not a safe name (PROTOCOL_MALFORMED)', async () => {
    const other = generateSigningKeyPair();
    const cl = await connect(c.server.url);
    const h = await cl.next((f) => f.type === 'hello');
    cl.ws.send(
      JSON.stringify(
        hello(String(h.challenge), { key: other, claimed: other.publicPem, router: '../x\nforged log line' }),
      ),
    );
    assert.equal((await cl.next(isAck('hello'))).code, 'PROTOCOL_MALFORMED');
    assert.equal(await cl.closed, 4403);
  });

  it('answers malformed and wrong-version frames with their codes and keeps the connection', async () => {
    const cl = await connect(c.server.url);
    const h = await cl.next((f) => f.type === 'hello');
    cl.ws.send(JSON.stringify(hello(String(h.challenge))));
    await cl.next(isAck('hello'));
    cl.ws.send('{"v":2,"type":"heartbeat","ts":1}');
    cl.ws.send('not json');
    cl.ws.send(
      JSON.stringify({
        v: 1,
        type: 'report',
        envelope: signEnvelope({
          kind: 'report',
          router: 'router-1',
          body: { kind: 'trust' },
          privateKey: generateSigningKeyPair().privateKey,
          clock: systemClock,
          random: systemRandom,
        }),
      }),
    );
    cl.ws.send(JSON.stringify({ v: 1, type: 'heartbeat', ts: 1 }));
    await cl.next((f) => f.type === 'heartbeat');
    const codes = cl.frames.filter((f) => f.type === 'ack' && f.ok === false).map((f) => f.code);
    assert.deepEqual(codes, ['PROTOCOL_VERSION', 'PROTOCOL_MALFORMED', 'PROTOCOL_BAD_SIGNATURE']);
    assert.equal(cl.ws.readyState, WebSocket.OPEN);
    cl.ws.close();
  });

  it('closes a connection that sends a frame over the size limit (1009), and serves the next one', async () => {
    const cl = await connect(c.server.url);
    cl.ws.send('x'.repeat(MAX_FRAME_BYTES + 1));
    assert.equal(await cl.closed, 1009);
    const again = await connect(c.server.url);
    await again.next((f) => f.type === 'hello');
    again.ws.close();
  });

  it('drops a peer that stops answering pings', async () => {
    const cl = await connect(c.server.url, { autoPong: false });
    const code = await cl.closed;
    assert.equal(code, 1006, 'terminated, not closed politely');
  });

  it('a router flooding reports fills only its own nonce memory (regression: one shared cache let one router starve all)', async function () {
    this.timeout(60_000);
    const other = generateSigningKeyPair();
    await c.registry.enroll('router-2', other.publicPem, { source: 'salt-event' });
    const open = async (router: string, key: ReturnType<typeof generateSigningKeyPair>) => {
      const cl = await connect(c.server.url);
      const h = await cl.next((f) => f.type === 'hello');
      cl.ws.send(JSON.stringify(hello(String(h.challenge), { key, claimed: key.publicPem, router })));
      assert.equal((await cl.next(isAck('hello'))).ok, true);
      return cl;
    };
    const report = (router: string, key: ReturnType<typeof generateSigningKeyPair>) =>
      JSON.stringify({
        v: 1,
        type: 'report',
        envelope: signEnvelope({
          kind: 'report',
          router,
          body: { kind: 'trust', trust: { state: 'trusted', minionId: router, minionActive: true, evidence: [] } },
          privateKey: key.privateKey,
          clock: systemClock,
          random: systemRandom,
          ttlMs: 600_000,
        }),
      });
    const flooder = await open('router-1', agent);
    const heard: string[] = [];
    c.server.on('report', (r: { routerId: string }) => heard.push(r.routerId));
    const n = REPORT_NONCES_PER_ROUTER + 50;
    for (let i = 0; i < n; i++) flooder.ws.send(report('router-1', agent));
    await flooder.next(
      () => flooder.frames.filter((f) => f.type === 'ack' && f.code === 'PROTOCOL_REPLAYED').length >= 50,
    );
    const victim = await open('router-2', other);
    victim.ws.send(report('router-2', other));
    await until(() => heard.includes('router-2'), 20_000, "router-2's report accepted");
    assert.equal(
      heard.filter((id) => id === 'router-1').length,
      REPORT_NONCES_PER_ROUTER,
      'the flooder got exactly its own quota',
    );
    flooder.ws.close();
    victim.ws.close();
  });

  it('refuses a connection on any other path', async () => {
    await assert.rejects(connect(c.server.url.replace('/ssr-recovery/agent/v1', '/other')));
  });
});
