/**
 * The daemon's observation endpoint as one lifecycle service: `GET /metrics` (Prometheus text),
 * `GET /healthz` (JSON), `GET /` (the read-only status page). Loopback by default
 * (`observe.listen`); every other method is refused, and nothing here changes a system.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../shared/log/logger.js';
import { listenOrFail } from '../../shared/net/listen.js';
import { setObserveSink } from '../../shared/observe/sink.js';
import { parseListen } from '../ws/service.js';
import { createConductorMetrics, type ConductorMetrics } from './metrics.js';
import { renderStatusPage } from './page.js';
import type { ObserveSources } from './sources.js';

export interface ObserveServiceOptions {
  listen: string;
  sources: ObserveSources;
  conductorId: string;
  logger: Logger;
  now?: () => number;
  refreshSeconds?: number;
}

export interface ObserveService {
  readonly name: 'observe';
  start(): Promise<void>;
  stop(): Promise<void>;
  /** `http://host:port` once started. */
  url?: string | undefined;
  metrics?: ConductorMetrics | undefined;
}

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

export function createObserveService(o: ObserveServiceOptions): ObserveService {
  const log = o.logger.child({ component: 'observe' });
  const now = o.now ?? Date.now;
  const startedAt = now();
  let server: Server | undefined;
  let restoreSink: (() => void) | undefined;
  const svc: ObserveService = {
    name: 'observe',
    async start() {
      const metrics = createConductorMetrics(o.sources);
      restoreSink = setObserveSink(metrics.sink);
      const { host, port } = parseListen(o.listen);
      server = createServer((req, res) => {
        handle(req, res, metrics).catch((err: unknown) => {
          log.warn('observe request failed', { url: req.url, error: (err as Error).message });
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('internal error\n');
        });
      });
      await listenOrFail(server, { host, port, what: 'metrics and the status page', setting: 'observe.listen' });
      const addr = server.address() as AddressInfo;
      svc.url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
      svc.metrics = metrics;
      log.info('serving metrics and the status page', { url: svc.url });
    },
    async stop() {
      restoreSink?.();
      if (!server) return;
      const s = server;
      server = undefined;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse, metrics: ConductorMetrics): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
      res.end('read-only: GET or HEAD\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/metrics') {
      const body = await metrics.render();
      res.writeHead(200, { 'content-type': metrics.contentType });
      res.end(req.method === 'HEAD' ? undefined : body);
    } else if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ status: 'ok', uptimeSeconds: Math.round((now() - startedAt) / 1000) })}\n`);
    } else if (url.pathname === '/') {
      // The page still shows the fleet when the backup folder cannot be listed (a missing folder, a bad file).
      let backupProblem: string | undefined;
      const backups = o.sources.backups().catch((err: unknown) => {
        backupProblem = (err as Error).message;
        return [];
      });
      const lastTest = o.sources.lastRestoreTest?.().catch(() => undefined);
      const [fleet, listed, waves, lastRestoreTest] = await Promise.all([
        o.sources.fleet(),
        backups,
        o.sources.waves(),
        lastTest,
      ]);
      const page = renderStatusPage({
        conductorId: o.conductorId,
        generatedAt: new Date(now()).toISOString(),
        fleet,
        backups: listed,
        backupProblem,
        lastRestoreTest,
        waves,
        filter: { q: url.searchParams.get('q') ?? undefined, trust: url.searchParams.get('trust') || undefined },
        ...(o.refreshSeconds !== undefined ? { refreshSeconds: o.refreshSeconds } : {}),
      });
      res.writeHead(200, PAGE_HEADERS);
      res.end(req.method === 'HEAD' ? undefined : page);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found: try /, /metrics or /healthz\n');
    }
  }
  return svc;
}
