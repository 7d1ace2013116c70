/**
 * The conductor-agent's wss listener for router agents. HTTPS with the agent certificate, `ws` in
 * noServer mode on one path, `maxPayload` limits, a challenge-signed hello that binds each
 * connection to a router id and key, ws ping/pong to drop dead peers, and signed reports checked
 * against the router's enrolled key. `sendCommand` signs a command, waits for the ack and the
 * signed report. Frame problems are answered with stable codes; the server keeps running.
 * Connections that have not proved an enrolled key are bounded and kept apart (sessions.ts).
 */
import { EventEmitter } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createTlsServer, type Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { AgentError, RecoveryError } from '../../shared/errors.js';
import { listenOrFail } from '../../shared/net/listen.js';
import { systemClock, type Clock } from '../../shared/ports/clock.js';
import { systemRandom, type Random } from '../../shared/ports/random.js';
import { nullLogger, type Logger } from '../../shared/log/logger.js';
import { signEnvelope } from '../../shared/protocol/envelope.js';
import { ReplayCache } from '../../shared/protocol/replay-cache.js';
import {
  AGENT_WS_PATH,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  type CommandBody,
  type Frame,
  type ReportBody,
} from '../../shared/protocol/messages.js';
import type { ConductorAgentIdentity } from '../identity/agent-key.js';
import type { AgentRegistry } from '../registry/store.js';
import { CommandWaiters, type VerifiedReport } from './command-sender.js';
import { mergeFleet, recordReport, type FleetEntry } from './fleet-view.js';
import { guardPreHello } from './pre-hello.js';
import { AgentSession } from './session.js';
import { DEFAULT_LISTENER_LIMITS, SessionTable, type ListenerLimits, type ListenerStats } from './sessions.js';

export interface AgentServerOptions {
  /** Address to listen on; port 0 picks a free port. */
  host: string;
  port: number;
  identity: ConductorAgentIdentity;
  registry: AgentRegistry;
  clock?: Clock;
  random?: Random;
  logger?: Logger;
  /** ws ping interval; a peer that misses one pong is dropped (default 30 s). */
  heartbeatMs?: number;
  /** Close connections that have not said hello within this time (default 10 s). */
  helloTimeoutMs?: number;
  /** Current Salt master fingerprint, sent to each router in a signed status command after hello. */
  masterFingerprint?: () => Promise<string | undefined>;
  /** Caps on connections that are not authenticated (agents.maxHandshakes, maxUnenrolled, unenrolledTtlMs). */
  limits?: Partial<ListenerLimits>;
}

export interface SendCommandOptions {
  ackTimeoutMs?: number;
  reportTimeoutMs?: number;
  /** Envelope lifetime (default 120 s). */
  ttlMs?: number;
}

export interface AgentServer extends EventEmitter {
  readonly host: string;
  readonly port: number;
  /** `wss://host:port/path` as routers reach it on this listener. */
  readonly url: string;
  readonly certFingerprint: string;
  /** Authenticated routers' live state merged with the registry (unenrolled peers never show). */
  fleet(): FleetEntry[];
  /** Sizes of the per-connection structures (all bounded). */
  stats(): ListenerStats & { replayNonces: number };
  /** The registry now holds this router's key: authenticate its waiting connection (true if one was). */
  promote(routerId: string): boolean;
  /** Sign and send one command; resolves with the router's verified report. */
  sendCommand(
    routerId: string,
    command: Omit<CommandBody, 'id'>,
    options?: SendCommandOptions,
  ): Promise<VerifiedReport>;
  close(): Promise<void>;
}

/**
 * Pending connections the kernel queues for the listener (capped by net.core.somaxconn). Node's 511
 * made thousands of agents reconnecting at once wait out SYN retransmits (1 s, 3 s, 7 s): the fleet
 * bench saw the kernel's listen-queue overflows.
 */
export const LISTEN_BACKLOG = 4096;

/** Live report nonces kept per router (a router sends a handful per command or trust change). */
export const REPORT_NONCES_PER_ROUTER = 4096;

/** Start the listener (resolves once it is listening). */
export async function startAgentServer(o: AgentServerOptions): Promise<AgentServer> {
  const clock = o.clock ?? systemClock;
  const random = o.random ?? systemRandom;
  const logger = (o.logger ?? nullLogger).child({ component: 'agent-server' });
  const emitter = new EventEmitter();
  const waiters = new CommandWaiters();
  const send = commandSender(o.identity, waiters, clock, random);
  const replays = new PerRouterReplay(clock);
  const limits = { ...DEFAULT_LISTENER_LIMITS, ...o.limits };
  const table: SessionTable = new SessionTable({
    limits,
    clock,
    registry: o.registry,
    logger,
    emitter,
    onAuthenticated: (session) => sendMasterFingerprint(session),
  });
  const sendMasterFingerprint = (session: AgentSession): void => {
    if (!o.masterFingerprint) return;
    void o
      .masterFingerprint()
      .then((fp) => {
        if (fp) send(session, { name: 'status', fingerprint: fp }, { reportTimeoutMs: 30_000 }).catch(() => undefined);
      })
      .catch(() => undefined);
  };

  // TLS and HTTP as two servers rather than `https`: an https server offers ALPN, and every TLS
  // socket then copies the ALPN list into a small pooled Buffer that pins an 8 KB pool slab for the
  // connection's life (~5.6 KB per agent in the fleet bench's heap snapshot). No client of this
  // listener negotiates ALPN.
  // A peer gets the hello timeout for each step before its hello (pre-hello.ts), then for the hello.
  const helloTimeoutMs = o.helloTimeoutMs ?? 10_000;
  const tls: Server = createTlsServer({
    key: o.identity.tlsKeyPem,
    cert: o.identity.tlsCertPem,
    handshakeTimeout: helloTimeoutMs,
  });
  const http = createHttpServer();
  guardPreHello(tls, {
    timeoutMs: helloTimeoutMs,
    maxHandshakes: limits.maxHandshakes,
    logger,
    onSecure: (socket) => http.emit('connection', socket),
  });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    perMessageDeflate: false,
    clientTracking: false,
  });
  http.on('request', (_req, res) => {
    res.writeHead(404).end();
  });
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!admitUpgrade(req, socket, table, logger)) return;
    wss.handleUpgrade(req, socket, head, (ws) => table.add(newSession(ws, req.socket.remoteAddress)));
  });

  const newSession = (ws: WebSocket, remote: string | undefined): AgentSession =>
    new AgentSession({
      ws,
      remote,
      clock,
      random,
      logger,
      registry: o.registry,
      replay: (id) => replays.get(id),
      helloTimeoutMs,
      admitUnenrolled: () => table.canAdmitUnenrolled(),
      onReady: (session) => table.ready(session, clock.now()),
      onReport: (session, report) => {
        // Only an authenticated router's reports reach the fleet view or complete a command.
        if (!session.enrolled || table.get(report.routerId) !== session) return;
        recordReport(table.live.get(report.routerId), report, clock.now());
        if (report.body.kind === 'trust') {
          // Peacetime pins for a disaster: the minion key (key gate) and sshd host keys (SSH fallback).
          const { minionKeyFingerprint, sshHostKeys } = report.body.trust;
          o.registry
            .recordReported(report.routerId, { minionKeyFingerprint, sshHostKeys })
            ?.catch((err: unknown) => logger.warn('cannot record reported facts', { router: report.routerId, err }));
        }
        waiters.onReport(report);
        emitter.emit('report', report);
      },
      onAck: (session, ack) => {
        if (session.enrolled) waiters.onAck(session.routerId!, ack);
      },
      onClose: (session) => {
        table.closed(session);
        if (session.routerId && !o.registry.get(session.routerId)) replays.drop(session.routerId);
      },
    });

  const hb = o.heartbeatMs ?? 30_000;
  const pinger = setInterval(() => {
    for (const s of table.all) s.heartbeat();
  }, hb);
  pinger.unref();

  await listenOrFail(tls, {
    host: o.host,
    port: o.port,
    backlog: LISTEN_BACKLOG,
    what: 'router agents',
    setting: 'agents.listen',
  }).catch((err: unknown) => {
    clearInterval(pinger);
    throw err;
  });
  tls.on('error', (err) => logger.error('agent listener error', { err }));
  const addr = tls.address() as AddressInfo;
  const hostForUrl = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;

  return Object.assign(emitter, {
    host: addr.address,
    port: addr.port,
    url: `wss://${hostForUrl}:${addr.port}${AGENT_WS_PATH}`,
    certFingerprint: o.identity.certFingerprint,
    fleet: () => mergeFleet(table.live.values(), o.registry.list()),
    stats: () => ({ ...table.stats(), replayNonces: replays.size() }),
    promote: (routerId: string) => table.promote(routerId, clock.now()),
    async sendCommand(
      routerId: string,
      command: Omit<CommandBody, 'id'>,
      so?: SendCommandOptions,
    ): Promise<VerifiedReport> {
      return send(await authenticatedSession(o.registry, table, routerId, clock.now()), command, so);
    },
    async close(): Promise<void> {
      clearInterval(pinger);
      waiters.rejectAll(new RecoveryError('AGENT_UNREACHABLE', 'agent server closing'));
      for (const s of table.all) s.close(1001, 'conductor-agent stopping');
      await new Promise<void>((resolve) => tls.close(() => resolve()));
    },
  }) as AgentServer;
}

export type { Frame, ReportBody };
export { WebSocket };

/** Sign one command for an authenticated session and wait for its ack, then its verified report. */
function commandSender(identity: ConductorAgentIdentity, waiters: CommandWaiters, clock: Clock, random: Random) {
  type Command = Omit<CommandBody, 'id'>;
  return async (session: AgentSession, command: Command, so: SendCommandOptions = {}): Promise<VerifiedReport> => {
    const routerId = session.routerId!;
    const id = random.id(12);
    const body: CommandBody = { id, ...command };
    const envelope = signEnvelope({
      kind: 'command',
      router: routerId,
      body,
      privateKey: identity.signing.privateKey,
      clock,
      random,
      ttlMs: so.ttlMs ?? 120_000,
    });
    const report = waiters.report(id, routerId, so.reportTimeoutMs ?? 180_000);
    const ack = waiters.ack(id, routerId, so.ackTimeoutMs ?? 15_000);
    report.catch(() => undefined);
    ack.catch(() => undefined);
    if (!session.send({ v: PROTOCOL_VERSION, type: 'command', envelope })) {
      const message = `router agent ${routerId} disconnected before the command could be sent`;
      throw new AgentError('AGENT_UNREACHABLE', message, {
        details: { router: routerId },
      });
    }
    await ack;
    return report;
  };
}

/** Path and handshake cap, checked before the WebSocket upgrade (false: answered and closed). */
function admitUpgrade(req: IncomingMessage, socket: Duplex, table: SessionTable, logger: Logger): boolean {
  if ((req.url ?? '').split('?')[0] !== AGENT_WS_PATH) {
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
    return false;
  }
  if (table.canHandshake()) return true;
  const remote = req.socket.remoteAddress;
  logger.debug('refused a connection: too many handshakes in progress', { remote, code: 'AGENT_LISTENER_BUSY' });
  socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n\r\n');
  return false;
}

/** The router's authenticated session, promoting a waiting connection enrolled since it connected. */
async function authenticatedSession(
  registry: AgentRegistry,
  table: SessionTable,
  routerId: string,
  now: number,
): Promise<AgentSession> {
  await registry.refresh();
  if (!registry.get(routerId)) {
    const message = `router ${routerId} has no enrolled agent key, so its report could not be trusted`;
    throw new AgentError('AGENT_NOT_ENROLLED', message, {
      details: { router: routerId },
      hint:
        'The agent enrolls itself over Salt while Salt works; otherwise approve its key ' +
        '(conductor-agent fleet --approve ROUTER --fingerprint FP).',
    });
  }
  // Enrolled (over Salt, or approved) after it connected: the key it proved at hello is the enrolled one.
  if (!table.get(routerId)) table.promote(routerId, now);
  const session = table.get(routerId);
  if (!session) {
    throw new AgentError('AGENT_UNREACHABLE', `router agent ${routerId} is not connected`, {
      details: { router: routerId },
      hint: 'Check the router-agent service on the router, or use the SSH fallback.',
    });
  }
  return session;
}

/**
 * One report-nonce memory per enrolled router: a router flooding reports fills only its own
 * (regression: one shared cache, refusing new nonces when full, let one router starve all).
 */
class PerRouterReplay {
  readonly #byRouter = new Map<string, ReplayCache>();
  constructor(private readonly clock: Clock) {}

  get(routerId: string): ReplayCache {
    let r = this.#byRouter.get(routerId);
    if (!r) {
      r = new ReplayCache({ clock: this.clock, maxEntries: REPORT_NONCES_PER_ROUTER });
      this.#byRouter.set(routerId, r);
    }
    return r;
  }

  drop(routerId: string): void {
    this.#byRouter.delete(routerId);
  }

  size(): number {
    let n = 0;
    for (const r of this.#byRouter.values()) n += r.size;
    return n;
  }
}
