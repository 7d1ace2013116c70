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

/** Watch `tls`'s connections until they are secure, then hand each to `onSecure`. */
export function guardPreHello(tls: Server, o: PreHelloOptions): void {
  // Keyed by peer while the TCP socket is known; the entry leaves on secure or on the raw socket's
  // close (a TLS socket that failed has lost its address by the time `tlsClientError` names it).
  const inHandshake = new Map<string, () => void>();
  tls.on('connection', (raw: Socket) => {
    if (inHandshake.size >= o.maxHandshakes) {
      o.logger.debug('refused a connection: too many TLS handshakes in progress', {
        remote: raw.remoteAddress,
        code: 'AGENT_LISTENER_BUSY',
      });
      raw.destroy();
      return;
    }
    const key = peer(raw);
    const release = (): void => {
      raw.setTimeout(0);
      raw.removeListener('close', release);
      if (inHandshake.get(key) === release) inHandshake.delete(key);
    };
    inHandshake.set(key, release);
    raw.once('close', release);
    raw.setTimeout(o.timeoutMs, () => raw.destroy());
  });
  tls.on('secureConnection', (socket: TLSSocket) => {
    inHandshake.get(peer(socket))?.();
    o.onSecure(socket);
    // Cleared by ws once the upgrade is done.
    socket.setTimeout(o.timeoutMs, destroySilent);
  });
  tls.on('tlsClientError', (_err: Error, socket: TLSSocket) => socket.destroy());
}

/** A connection that sent no upgrade request within the hello timeout (one listener for all). */
function destroySilent(this: TLSSocket): void {
  this.destroy();
}
