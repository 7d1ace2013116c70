/**
 * The router agent's metrics (`GET /metrics`, Prometheus text) and health (`GET /healthz`) on
 * `observe.listen` (loopback by default). Written by hand on node:http instead of prom-client: the
 * agent must stay light (start and idle-memory targets), and the few series it has need no library.
 * A port that cannot be bound is logged and the agent runs on without metrics: watching the agent
 * must never stop it from re-authenticating its minion.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../shared/log/logger.js';
import { TRUST_STATES, type ReportBody, type TrustFacts } from '../shared/protocol/messages.js';

/** What the endpoint reads from the running agent. */
export interface ObservedAgent {
  minionId: string;
  trust(): TrustFacts;
  links(): { url: string; ready: boolean }[];
  on(event: 'report', fn: (body: ReportBody) => void): unknown;
}

export interface RouterObserve {
  url: string | undefined;
  close(): Promise<void>;
}

const P = 'ssr_recovery_router_';

/** Prometheus text for the agent's current state and counters (pure; exported for tests). */
export function renderRouterMetrics(
  agent: Pick<ObservedAgent, 'minionId' | 'trust' | 'links'>,
  counters: ReadonlyMap<string, number>,
  startedAtMs: number,
  rssBytes: number,
): string {
  const state = agent.trust().state;
  const id = JSON.stringify(agent.minionId);
  const lines = [
    `# HELP ${P}trust_state 1 for the trust state the agent sees now (trusted, stale-master-key, …).`,
    `# TYPE ${P}trust_state gauge`,
    ...TRUST_STATES.map((s) => `${P}trust_state{minion=${id},state="${s}"} ${s === state ? 1 : 0}`),
    `# HELP ${P}conductor_links Conductor-agent links by state (ready: hello accepted).`,
    `# TYPE ${P}conductor_links gauge`,
    `${P}conductor_links{state="ready"} ${agent.links().filter((l) => l.ready).length}`,
    `${P}conductor_links{state="down"} ${agent.links().filter((l) => !l.ready).length}`,
    `# HELP ${P}commands_total Re-authentication and rollback commands ended, by action and outcome.`,
    `# TYPE ${P}commands_total counter`,
    ...[...counters].map(([k, n]) => {
      const [action, outcome] = k.split('/');
      return `${P}commands_total{action="${action}",outcome="${outcome}"} ${n}`;
    }),
    '# HELP process_resident_memory_bytes Resident memory size in bytes.',
    '# TYPE process_resident_memory_bytes gauge',
    `process_resident_memory_bytes ${rssBytes}`,
    '# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.',
    '# TYPE process_start_time_seconds gauge',
    `process_start_time_seconds ${Math.floor(startedAtMs / 1000)}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** Serve metrics and health for a running agent; resolves once listening (or once binding failed). */
export async function startRouterObserve(agent: ObservedAgent, listen: string, logger: Logger): Promise<RouterObserve> {
  const startedAt = Date.now() - Math.round(process.uptime() * 1000);
  const counters = new Map<string, number>();
  const seen = new Set<string>(); // pending reports are sent again on every connect: count each command once
  agent.on('report', (body) => {
    if (body.kind !== 'reauth' && body.kind !== 'rollback') return;
    if (body.commandId && seen.has(body.commandId)) return;
    if (body.commandId) seen.add(body.commandId);
    if (seen.size > 1000) seen.delete(seen.values().next().value as string);
    const key = `${body.kind}/${body.outcome?.ok ? 'ok' : 'failed'}`;
    counters.set(key, (counters.get(key) ?? 0) + 1);
  });
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(listen) ?? /^([^:]+):(\d+)$/.exec(listen);
  if (!m || Number(m[2]) > 65535) {
    logger.error('observe.listen must be host:port or off: metrics disabled', { listen });
    return { url: undefined, close: async () => undefined };
  }
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      const body = renderRouterMetrics(agent, counters, startedAt, process.memoryUsage.rss());
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body);
    } else if (path === '/healthz') {
      const body = { status: 'ok', minionId: agent.minionId, trust: agent.trust().state };
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
    } else res.writeHead(404).end();
  });
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', (err) => {
      logger.error('cannot serve metrics: running on without them', { listen, error: err.message });
      resolve(false);
    });
    server.listen(Number(m[2]), m[1], () => resolve(true));
  });
  if (!ok) return { url: undefined, close: async () => undefined };
  server.unref();
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  logger.info('serving metrics', { url });
  return {
    url,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
