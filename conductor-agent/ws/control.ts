/**
 * The daemon's local control socket: how `conductor-agent fleet` and `conductor-agent reauth` reach
 * the running daemon, which holds the router-agent connections. A Unix socket (0600 in the 0700
 * state folder, so only root), one JSON request line and one JSON response line per connection.
 */
import { createConnection, createServer, type Server } from 'node:net';
import { promises as fsp } from 'node:fs';
import { RecoveryError, ErrorCodes, type ErrorCode } from '../../shared/errors.js';

const MAX_REQUEST = 64 * 1024;
/** A wave keeps up to `--concurrency` requests open at once; Node's default queue (511) refused the rest. */
const LISTEN_BACKLOG = 4096;

export type ControlHandler = (args: Record<string, unknown>) => Promise<unknown>;

export interface ControlServer {
  readonly path: string;
  close(): Promise<void>;
}

/** Listen on `path` (a stale socket left by a dead daemon is replaced; a live one is LOCK_HELD). */
export async function startControlServer(
  path: string,
  handlers: Record<string, ControlHandler>,
): Promise<ControlServer> {
  if (await socketAnswers(path)) {
    throw new RecoveryError('LOCK_HELD', `another conductor-agent daemon is serving ${path}`, {
      hint: 'Stop the other daemon first (systemctl stop conductor-agent).',
    });
  }
  await fsp.rm(path, { force: true });
  const server: Server = createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => undefined);
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_REQUEST) return sock.destroy();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      void (async () => {
        let response: unknown;
        try {
          const req = JSON.parse(line) as { op?: unknown; args?: unknown };
          const h = typeof req.op === 'string' && Object.hasOwn(handlers, req.op) ? handlers[req.op] : undefined;
          if (!h) throw new RecoveryError('USAGE', `unknown control operation ${JSON.stringify(req.op)}`);
          response = { ok: true, result: await h((req.args ?? {}) as Record<string, unknown>) };
        } catch (err) {
          const e = err instanceof RecoveryError ? err : new RecoveryError('INTERNAL', (err as Error).message);
          response = { ok: false, error: e.toJSON() };
        }
        sock.end(`${JSON.stringify(response)}\n`);
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await fsp.chmod(path, 0o600);
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        fsp.rm(path, { force: true }).catch(() => undefined);
      }),
  };
}

async function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Send one request to the daemon; throws the daemon's RecoveryError, or AGENT_DAEMON_UNREACHABLE. */
export async function controlRequest<T = unknown>(
  path: string,
  op: string,
  args: Record<string, unknown> = {},
  timeoutMs = 300_000,
): Promise<T> {
  const text = await new Promise<string>((resolve, reject) => {
    const s = createConnection(path);
    let out = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new RecoveryError('AGENT_TIMEOUT', `the daemon did not answer ${op} within ${timeoutMs} ms`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.once('connect', () => s.write(`${JSON.stringify({ op, args })}\n`));
    s.on('data', (d: string) => {
      out += d;
    });
    s.once('end', () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(
        new RecoveryError(
          'AGENT_DAEMON_UNREACHABLE',
          `cannot reach the conductor-agent daemon at ${path}: ${(err as NodeJS.ErrnoException).code ?? err.message}`,
          {
            cause: err,
            details: { socket: path },
            hint: 'Start it (systemctl start conductor-agent, or conductor-agent daemon).',
          },
        ),
      );
    });
  });
  let res: {
    ok: boolean;
    result?: T;
    error?: { code?: string; message?: string; hint?: string; details?: Record<string, unknown> };
  };
  try {
    res = JSON.parse(text) as typeof res;
  } catch {
    throw new RecoveryError(
      'AGENT_DAEMON_UNREACHABLE',
      `the daemon closed the control connection without an answer to ${op}`,
    );
  }
  if (res.ok) return res.result as T;
  const code = (res.error?.code && res.error.code in ErrorCodes ? res.error.code : 'INTERNAL') as ErrorCode;
  throw new RecoveryError(code, res.error?.message ?? 'daemon error', {
    hint: res.error?.hint,
    details: res.error?.details,
  });
}
