/**
 * The steps of an agent connection before its hello: TCP accepted, TLS handshake, HTTP upgrade.
 * Node gives a peer that never starts its TLS handshake no timeout at all (its `handshakeTimeout`
 * starts at the ClientHello) and none between the handshake and the upgrade request, so a machine on
 * the conductor's network could hold sockets open for free. Here each step gets the hello timeout,
 * and at most `maxHandshakes` connections may be before their TLS handshake's end at once: a storm
 * beyond that is refused at accept, before any crypto is spent on it (the agents back off and retry).
 */
import type { Socket } from 'node:net';
import type { Server, TLSSocket } from 'node:tls';
import type { Logger } from '../../shared/log/logger.js';

export interface PreHelloOptions {
  timeoutMs: number;
  maxHandshakes: number;
  logger: Logger;
  /** A connection whose TLS handshake is done: serve its upgrade request. */
  onSecure(socket: TLSSocket): void;
}

/** A TCP connection is one 4-tuple; on one listener the remote address and port name it. */
const peer = (s: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string =>
  `${s.remoteAddress}|${s.remotePort}`;

/** Watch `tls`'s connections until they are secure; returns how many are in their TLS handshake. */
export function guardPreHello(tls: Server, o: PreHelloOptions): () => number {
  const inHandshake = new Map<string, Socket>();
  tls.on('connection', (raw: Socket) => {
    const key = peer(raw);
    if (inHandshake.size >= o.maxHandshakes) {
      o.logger.debug('refused a connection: too many TLS handshakes in progress', {
        remote: raw.remoteAddress,
        code: 'AGENT_LISTENER_BUSY',
      });
      raw.destroy();
      return;
    }
    inHandshake.set(key, raw);
    raw.setTimeout(o.timeoutMs, () => {
      inHandshake.delete(key);
      raw.destroy();
    });
  });
  tls.on('secureConnection', (socket: TLSSocket) => {
    const key = peer(socket);
    inHandshake.get(key)?.setTimeout(0);
    inHandshake.delete(key);
    o.onSecure(socket);
    // Cleared by ws once the upgrade is done.
    socket.setTimeout(o.timeoutMs, destroySilent);
  });
  tls.on('tlsClientError', (_err: Error, socket: TLSSocket) => {
    inHandshake.get(peer(socket))?.setTimeout(0);
    inHandshake.delete(peer(socket));
    socket.destroy();
  });
  return () => inHandshake.size;
}

/** A connection that sent no upgrade request within the hello timeout (one listener for all). */
function destroySilent(this: TLSSocket): void {
  this.destroy();
}
