/**
 * Bind a server, turning a bind failure (address in use, no such address, no permission) into
 * SERVICE_FAILED that names the setting to change, instead of an unexplained crash.
 */
import type { Server } from 'node:net';
import { AgentError } from '../errors.js';

export interface ListenTarget {
  host: string;
  port: number;
  backlog?: number;
  /** What listens, for the message: "router agents", "metrics and the status page". */
  what: string;
  /** The setting that chose the address, for the hint: "agents.listen". */
  setting: string;
}

export function listenOrFail(server: Server, t: ListenTarget): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException): void => {
      const why = err.code ?? err.message;
      reject(
        new AgentError('SERVICE_FAILED', `cannot listen for ${t.what} on ${t.host}:${t.port}: ${why}`, {
          cause: err,
          details: { host: t.host, port: t.port },
          hint:
            err.code === 'EADDRINUSE'
              ? `Another process uses that port: change ${t.setting} or stop the other process.`
              : `Check ${t.setting}.`,
        }),
      );
    };
    server.once('error', fail);
    const opts =
      t.backlog === undefined ? { port: t.port, host: t.host } : { port: t.port, host: t.host, backlog: t.backlog };
    server.listen(opts, () => {
      server.off('error', fail);
      resolve();
    });
  });
}
