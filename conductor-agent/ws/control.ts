/**
 * The daemon's local control socket: how `conductor-agent fleet` and `conductor-agent reauth` reach
 * the running daemon, which holds the router-agent connections. A Unix socket (0600 in the 0700
 * state folder, so only root). JSON lines: a request `{id, op, args}`, its response `{id, ok, …}`.
 * A connection carries many requests at once (a wave keeps `--concurrency` of them open; a connection
 * per request cost a connect, an accept and a close on both sides for every router), and the
 * writes of one tick go out in one system call. A request without `id` is answered and the
 * connection ended (a client of an earlier version).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
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
  const open = new Set<Socket>();
  const server: Server = createServer((sock) => {
    open.add(sock);
    sock.once('close', () => open.delete(sock));
    const buf = new LineBuffer();
    sock.setEncoding('utf8');
    sock.on('error', () => undefined);
    const answer = async (line: string): Promise<void> => {
      let id: string | number | undefined;
      let response: Record<string, unknown>;
      try {
        const req = JSON.parse(line) as { id?: unknown; op?: unknown; args?: unknown };
        if (typeof req.id === 'number' || typeof req.id === 'string') id = req.id;
        const h = typeof req.op === 'string' && Object.hasOwn(handlers, req.op) ? handlers[req.op] : undefined;
        if (!h) throw new RecoveryError('USAGE', `unknown control operation ${JSON.stringify(req.op)}`);
        response = { ok: true, result: await h((req.args ?? {}) as Record<string, unknown>) };
      } catch (err) {
        const e = err instanceof RecoveryError ? err : new RecoveryError('INTERNAL', (err as Error).message);
        response = { ok: false, error: e.toJSON() };
      }
      if (sock.destroyed) return;
      if (id === undefined) {
        sock.end(`${JSON.stringify(response)}\n`);
        return;
      }
      writeCoalesced(sock, `${JSON.stringify({ id, ...response })}\n`);
    };
    sock.on('data', (chunk: string) => {
      for (const line of buf.push(chunk)) void answer(line);
      if (buf.length > MAX_REQUEST) sock.destroy();
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
        // A CLI's channel stays open between requests: closing ends it (its waiting requests fail).
        for (const sock of open) sock.destroy();
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

/**
 * Complete lines out of a stream's chunks. A chunk without a newline is only kept: the fleet view
 * (megabytes at 10,000 routers) arrives in 64 KB chunks, and joining and splitting everything
 * received so far at each one made its read quadratic (about 1 s of the CLI's CPU in the wave).
 */
class LineBuffer {
  #parts: string[] = [];
  #length = 0;

  /** Bytes (UTF-16 units) held waiting for their newline. */
  get length(): number {
    return this.#length;
  }

  /** The lines that `chunk` completes. */
  push(chunk: string): string[] {
    if (!chunk.includes('\n')) {
      this.#parts.push(chunk);
      this.#length += chunk.length;
      return [];
    }
    const text = this.#parts.length === 0 ? chunk : this.#parts.join('') + chunk;
    const lines = text.split('\n');
    const rest = lines.pop()!;
    this.#parts = rest ? [rest] : [];
    this.#length = rest.length;
    return lines;
  }
}

/** Lines written in one tick leave in one write (cork now, uncork on the next tick). */
function writeCoalesced(sock: Socket, line: string): void {
  if (!sock.writableCorked) {
    sock.cork();
    process.nextTick(() => sock.uncork());
  }
  sock.write(line);
}

interface ControlResponse {
  id?: unknown;
  ok: boolean;
  result?: unknown;
  error?: { code?: string; message?: string; hint?: string; details?: Record<string, unknown> };
}

interface Waiting {
  op: string;
  resolve: (r: ControlResponse) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * One connection to the daemon carrying any number of requests at once; connected on first use
 * and again after the daemon closed it. It does not keep the process alive while nothing waits.
 */
export class ControlChannel {
  readonly #path: string;
  #sock: Socket | undefined;
  #next = 1;
  readonly #waiting = new Map<number, Waiting>();

  constructor(path: string) {
    this.#path = path;
  }

  /** One request; throws the daemon's RecoveryError, AGENT_TIMEOUT, or AGENT_DAEMON_UNREACHABLE. */
  async request<T = unknown>(op: string, args: Record<string, unknown> = {}, timeoutMs = 300_000): Promise<T> {
    const sock = this.#connect();
    const id = this.#next++;
    const res = await new Promise<ControlResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#settle(id)?.reject(
          new RecoveryError('AGENT_TIMEOUT', `the daemon did not answer ${op} within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.#waiting.set(id, { op, resolve, reject, timer });
      sock.ref();
      writeCoalesced(sock, `${JSON.stringify({ id, op, args })}\n`);
    });
    if (res.ok) return res.result as T;
    const code = (res.error?.code && res.error.code in ErrorCodes ? res.error.code : 'INTERNAL') as ErrorCode;
    throw new RecoveryError(code, res.error?.message ?? 'daemon error', {
      hint: res.error?.hint,
      details: res.error?.details,
    });
  }

  /** Close the connection; requests still waiting fail as unanswered. */
  close(): void {
    this.#sock?.destroy();
  }

  #connect(): Socket {
    if (this.#sock) return this.#sock;
    const s = createConnection(this.#path);
    this.#sock = s;
    const buf = new LineBuffer();
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      for (const line of buf.push(d)) {
        let res: ControlResponse;
        try {
          res = JSON.parse(line) as ControlResponse;
        } catch {
          continue; // not an answer to anything
        }
        // A daemon of an earlier version answers without the id: the one request it was sent.
        const id = typeof res.id === 'number' ? res.id : this.#waiting.keys().next().value;
        if (id !== undefined) this.#settle(id)?.resolve(res);
      }
    });
    let failure: Error | undefined;
    s.once('error', (err) => {
      failure = new RecoveryError(
        'AGENT_DAEMON_UNREACHABLE',
        `cannot reach the conductor-agent daemon at ${this.#path}: ${(err as NodeJS.ErrnoException).code ?? err.message}`,
        {
          cause: err,
          details: { socket: this.#path },
          hint: 'Start it (systemctl start conductor-agent, or conductor-agent daemon).',
        },
      );
    });
    s.once('close', () => {
      if (this.#sock === s) this.#sock = undefined;
      for (const [id, w] of [...this.#waiting]) {
        this.#settle(id);
        w.reject(
          failure ??
            new RecoveryError(
              'AGENT_DAEMON_UNREACHABLE',
              `the daemon closed the control connection without an answer to ${w.op}`,
            ),
        );
      }
    });
    return s;
  }

  /** Forget a waiting request (its timer too); the connection no longer holds the process when none waits. */
  #settle(id: number): Waiting | undefined {
    const w = this.#waiting.get(id);
    if (!w) return undefined;
    this.#waiting.delete(id);
    clearTimeout(w.timer);
    if (this.#waiting.size === 0) this.#sock?.unref();
    return w;
  }
}

/** Send one request to the daemon on a connection of its own; throws as ControlChannel.request. */
export async function controlRequest<T = unknown>(
  path: string,
  op: string,
  args: Record<string, unknown> = {},
  timeoutMs = 300_000,
): Promise<T> {
  const channel = new ControlChannel(path);
  try {
    return await channel.request<T>(op, args, timeoutMs);
  } finally {
    channel.close();
  }
}
