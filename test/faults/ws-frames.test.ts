// Hostile frames on the agent channel, both ways. A live router-agent daemon (the bundle the systemd
// unit runs) gets ≥5,000 mutated frames from its (pinned) conductor link, a connection cut mid-frame
// and an oversize frame; a real conductor-agent listener gets ≥5,000 mutated frames from a peer that
// owns no enrolled key. Both keep running, answer a genuine command correctly afterwards, and change
// no file.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';
import {
  loadOrCreateConductorIdentity,
  type ConductorAgentIdentity,
} from '../../conductor-agent/identity/agent-key.js';
import { reauthRouter } from '../../conductor-agent/reauth/single.js';
import { systemClock } from '../../shared/ports/clock.js';
import { systemRandom } from '../../shared/ports/random.js';
import { signEnvelope, verifyEnvelope } from '../../shared/protocol/envelope.js';
import { loadPublicKeys } from '../../shared/protocol/signing-keys.js';
import { AGENT_WS_PATH, MAX_FRAME_BYTES, PROTOCOL_VERSION } from '../../shared/protocol/messages.js';
import { pemFinger } from '../../shared/salt/fingerprint.js';
import { loadOrCreateAgentKey } from '../../router-agent/agent-key.js';
import { routerFacts, startConductorSide, startRouter, until } from '../helpers/agents.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { FakeMinion, makeRouterTree, rsaPublicPem } from '../unit/router-agent/fake-minion.js';
import { mutateFrame, Rng } from './mutate.js';
import { recordFaults } from './record.js';

const FRAMES = Number(process.env.SSR_FAULT_FRAMES ?? 5000);
const SEED = Number(process.env.SSR_FAULT_SEED ?? 20261201);
const bundle = fileURLToPath(new URL('../../dist/router-agent/router-agent.cjs', import.meta.url));

/** SHA-256 of every file under `dir` (what "no data lost / nothing changed" is checked against). */
function treeHashes(dir: string, skip: RegExp): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (skip.test(p)) continue;
      if (statSync(p).isDirectory()) walk(p);
      else out.set(p, createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}
function changed(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...before].filter(([p, h]) => after.get(p) !== h).map(([p]) => p);
}

/** A conductor-agent stand-in holding the real identity (so the router's pins pass) that sends what the test says. */
class HostileConductor {
  server!: Server;
  wss!: WebSocketServer;
  socket: WebSocket | undefined;
  received: Record<string, unknown>[] = [];
  /** Connections whose router hello was answered. */
  acked = new WeakSet<WebSocket>();
  constructor(readonly identity: ConductorAgentIdentity) {}
  async start(host: string): Promise<number> {
    this.server = createHttpsServer({ key: this.identity.tlsKeyPem, cert: this.identity.tlsCertPem });
    this.wss = new WebSocketServer({ server: this.server, path: AGENT_WS_PATH, maxPayload: MAX_FRAME_BYTES * 4 });
    this.wss.on('connection', (ws) => {
      this.socket = ws;
      ws.on('message', (d) => {
        const f = JSON.parse(String(d)) as Record<string, unknown>;
        this.received.push(f);
        if (f.type === 'hello') {
          ws.send(JSON.stringify({ v: PROTOCOL_VERSION, type: 'ack', id: 'hello', ok: true, enrolled: true }));
          this.acked.add(ws);
        }
      });
      ws.send(
        JSON.stringify({
          v: PROTOCOL_VERSION,
          type: 'hello',
          role: 'conductor',
          challenge: randomBytes(16).toString('base64url'),
          serverTime: Date.now(),
        }),
      );
    });
    await new Promise<void>((r) => this.server.listen(0, host, () => r()));
    return (this.server.address() as { port: number }).port;
  }
  command(router: string, id: string): Record<string, unknown> {
    const envelope = signEnvelope({
      kind: 'command',
      router,
      body: { id, name: 'status' },
      privateKey: this.identity.signing.privateKey,
      clock: systemClock,
      random: systemRandom,
    });
    return { v: PROTOCOL_VERSION, type: 'command', envelope };
  }
  async send(data: string | Buffer): Promise<void> {
    await new Promise<void>((resolve) => this.socket!.send(data, () => resolve()));
  }
  close(): void {
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
    this.server.close();
  }
}

describe('faults: hostile frames on the agent channel', function () {
  this.timeout(180_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await makeTmpDir('ssr-fault-ws-')));
  afterEach(() => cleanup());

  it(`a live router agent survives ${FRAMES} mutated conductor frames, a cut mid-frame and an oversize frame`, async () => {
    const identity = await loadOrCreateConductorIdentity(join(dir, 'conductor'));
    const hostile = new HostileConductor(identity);
    const port = await hostile.start('127.0.0.5');
    const tree = await makeRouterTree(join(dir, 'router'), rsaPublicPem(), 'router-1');
    await mkdir(join(dir, 'router/etc/ssr-recovery'), { recursive: true });
    await writeFile(
      join(dir, 'router/etc/ssr-recovery/router-agent.yaml'),
      JSON.stringify({
        conductor: {
          addresses: [`127.0.0.5:${port}`],
          agentPublicKey: identity.signing.publicPem,
          certFingerprint: identity.certFingerprint,
        },
        agent: { saltCall: 'true', pollMs: 200 },
        services: { minion: { start: 'true', stop: 'true', restart: 'true', isActive: 'true' } },
        observe: { listen: 'off' },
        log: { level: 'error' },
      }),
    );
    const child: ChildProcess = spawn(process.execPath, [bundle, 'daemon', '--json', '--root', join(dir, 'router')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let exited: number | null | undefined;
    child.once('exit', (code) => {
      exited = code;
    });
    try {
      await until(
        () => hostile.received.some((f) => f.type === 'report'),
        20_000,
        'the router agent to connect and report',
      );
      const before = treeHashes(join(dir, 'router'), /replay-cache|var\/log|\.lock$/);
      const agentKey = await loadOrCreateAgentKey(tree.stateDir);
      const corpus = [
        { v: 1, type: 'hello', role: 'conductor', challenge: 'c'.repeat(22), serverTime: Date.now() },
        { v: 1, type: 'ack', id: 'hello', ok: true, enrolled: true },
        { v: 1, type: 'heartbeat', ts: Date.now() },
        hostile.command('router-1', 'fuzz-base'),
        hostile.command('router-2', 'fuzz-other-router'),
      ];
      const rng = new Rng(SEED);
      for (let i = 0; i < FRAMES; i++)
        await hostile.send(mutateFrame(rng, rng.pick(corpus) as Record<string, unknown>));

      const answers = async (id: string): Promise<boolean> => {
        await hostile.send(JSON.stringify(hostile.command('router-1', id)));
        await until(
          () => hostile.received.some((f) => f.type === 'report' && reportFor(f, id)),
          20_000,
          `a signed report for ${id}`,
        );
        return true;
      };
      const reportFor = (f: Record<string, unknown>, id: string): boolean => {
        try {
          const p = verifyEnvelope<{ commandId?: string }>(f.envelope, {
            kind: 'report',
            publicKeys: loadPublicKeys(agentKey.publicPem),
            router: 'router-1',
            clock: systemClock,
          });
          return p.body.commandId === id;
        } catch {
          return false;
        }
      };
      assert.ok(await answers('after-fuzz'));
      assert.equal(exited, undefined, 'the router agent is still running');

      // Cut mid-frame, five times: the agent reconnects and answers each time.
      let cuts = 0;
      for (let i = 0; i < 5; i++) {
        const s = hostile.socket!;
        const raw = (s as unknown as { _socket: import('node:net').Socket })._socket;
        raw.write(Buffer.from([0x81, 0x7e, 0x01, 0x00])); // text frame header announcing 256 bytes…
        raw.write(Buffer.from('{"v":1,"type":"comm')); // …of which only some arrive
        raw.destroy();
        await until(
          () => hostile.socket !== s && hostile.acked.has(hostile.socket!),
          20_000,
          'a reconnect and a new router hello',
        );
        if (await answers(`after-cut-${i}`)) cuts++;
      }
      // Oversize: the agent closes that connection (1009) and comes back.
      const big = hostile.socket!;
      await hostile.send(JSON.stringify({ v: 1, type: 'heartbeat', pad: 'x'.repeat(MAX_FRAME_BYTES + 10) }));
      await until(
        () => hostile.socket !== big && hostile.acked.has(hostile.socket!),
        30_000,
        'a reconnect after the oversize frame',
      );
      const oversize = (await answers('after-oversize')) ? 1 : 0;

      const lost = changed(before, treeHashes(join(dir, 'router'), /replay-cache|var\/log|\.lock$/));
      assert.deepEqual(lost, []);
      assert.equal(exited, undefined);
      recordFaults({
        area: 'router-agent (live daemon)',
        fault: 'mutated frames from the conductor link',
        injected: FRAMES,
        survived: FRAMES,
        dataLost: lost.length,
      });
      recordFaults({
        area: 'router-agent (live daemon)',
        fault: 'connection cut mid-frame',
        injected: 5,
        survived: cuts,
        dataLost: 0,
      });
      recordFaults({
        area: 'router-agent (live daemon)',
        fault: 'oversize frame',
        injected: 1,
        survived: oversize,
        dataLost: 0,
      });
    } finally {
      child.kill('SIGTERM');
      hostile.close();
    }
  });

  it(`the conductor-agent listener survives ${FRAMES} mutated frames from an unenrolled peer and still commands its routers`, async () => {
    const oldMaster = rsaPublicPem();
    const newMaster = rsaPublicPem();
    const conductor = await startConductorSide(dir, { masterFingerprint: async () => pemFinger(newMaster) });
    const stateBefore = treeHashes(conductor.stateDir, /\.lock$/);
    const tree = await makeRouterTree(join(dir, 'r1'), oldMaster, 'router-1');
    const minion = new FakeMinion(tree, newMaster);
    minion.active = true;
    await minion.attempt();
    const agentKey = await loadOrCreateAgentKey(tree.stateDir);
    await conductor.registry.enroll('router-1', agentKey.publicPem, { source: 'salt-event' });
    const agent = await startRouter(routerFacts(tree, { minionId: 'router-1', conductor, service: minion }), {
      probe: () => minion.probe(),
    });
    const attacker = await loadOrCreateAgentKey(join(dir, 'attacker'));
    let sent = 0;
    let reconnects = 0;
    try {
      await until(() => agent.connected().length === 1, 10_000, 'the genuine agent to connect');
      const hello = (challenge: string, router: string) => ({
        v: 1,
        type: 'hello',
        role: 'router',
        envelope: signEnvelope({
          kind: 'hello',
          router,
          body: { challenge, agentPublicKey: attacker.publicPem, agentVersion: '0' },
          privateKey: attacker.privateKey,
          clock: systemClock,
          random: systemRandom,
        }),
      });
      const report = (router: string) => ({
        v: 1,
        type: 'report',
        envelope: signEnvelope({
          kind: 'report',
          router,
          body: {
            kind: 'trust',
            trust: { state: 'trusted', minionId: router, minionActive: true, evidence: [], since: '' },
          },
          privateKey: attacker.privateKey,
          clock: systemClock,
          random: systemRandom,
        }),
      });
      const rng = new Rng(SEED + 1);
      while (sent < FRAMES) {
        const ws = new WebSocket(conductor.server.url, { rejectUnauthorized: false, perMessageDeflate: false });
        const challenge = await new Promise<string>((resolve, reject) => {
          ws.once('message', (d) => resolve(String((JSON.parse(String(d)) as { challenge?: string }).challenge ?? '')));
          ws.once('error', reject);
          ws.once('close', () => resolve(''));
        }).catch(() => '');
        const corpus = [
          hello(challenge, 'router-1'),
          hello(challenge, 'router-9'),
          report('router-1'),
          { v: 1, type: 'heartbeat', ts: Date.now() },
          { v: 1, type: 'ack', id: 'x', ok: true },
        ];
        while (sent < FRAMES && ws.readyState === WebSocket.OPEN) {
          await new Promise<void>((r) =>
            ws.send(mutateFrame(rng, rng.pick(corpus) as Record<string, unknown>), () => r()),
          );
          sent++;
        }
        ws.terminate();
        reconnects++;
      }
      // The genuine router is still connected, its trust unchanged by the attacker, and it answers a command.
      await until(() => agent.connected().length === 1, 20_000, 'the genuine agent to stay or come back');
      const entry = conductor.server.fleet().find((e) => e.routerId === 'router-1');
      assert.notEqual(entry?.trust, 'trusted', 'a forged report must not change the trust state');
      const r = await reauthRouter({
        server: conductor.server,
        routerId: 'router-1',
        fingerprint: pemFinger(newMaster),
        routerTimeoutMs: 10_000,
      });
      assert.equal(r.ok, true, r.outcome.message);
      const lost = changed(stateBefore, treeHashes(conductor.stateDir, /\.lock$/)).filter(
        (p) => !p.endsWith('registry.json'),
      );
      assert.deepEqual(lost, []);
      assert.equal(
        conductor.server.fleet().filter((e) => e.routerId === 'router-9').length,
        0,
        'no fleet entry for an id the attacker named',
      );
      recordFaults({
        area: 'conductor-agent listener',
        fault: `mutated frames from an unenrolled peer (${reconnects} connections)`,
        injected: sent,
        survived: sent,
        dataLost: lost.length,
      });
    } finally {
      await agent.stop();
      await conductor.server.close();
    }
  });
});
