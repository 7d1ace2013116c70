// Reconnect timing follows the server's `retry:` hint (salt-api sends 400): a raw SSE server on
// loopback sends a hint and closes; the stream's injected clock records the wait before reconnecting.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { SaltApiClient } from '../../conductor-agent/saltapi/client.js';
import { openSaltEvents } from '../../conductor-agent/saltapi/events.js';
import { systemClock, type Clock } from '../../shared/ports/clock.js';

describe('integration: /events reconnect with the server retry hint', () => {
  let server: Server;
  let url: string;
  let opens = 0;
  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/login') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end(
          JSON.stringify({
            return: [
              {
                token: 'ab'.repeat(20),
                expire: Date.now() / 1000 + 3600,
                start: Date.now() / 1000,
                user: 'u',
                eauth: 'pam',
                perms: [],
              },
            ],
          }),
        );
      }
      if (req.url === '/logout') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end('{"return": "Your token has been cleared"}');
      }
      opens++;
      res.writeHead(200, { 'Content-Type': 'text/event-stream;charset=utf-8' });
      // first connection: a hint, one event split over two writes, then the server ends the stream
      if (opens === 1) {
        res.write('retry: 1234\ntag: a/b\nda');
        setTimeout(() => res.end('ta: {"data": {"n": 1}, "tag": "a/b"}\n\n'), 20);
      } else {
        res.write('tag: a/c\ndata: {"data": {"n": 2}, "tag": "a/c"}\n\n');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('waits retry: ms after a clean end, then reconnects and keeps delivering', async () => {
    const slept: number[] = [];
    const clock: Clock = {
      ...systemClock,
      sleep: async (ms) => {
        slept.push(ms);
      },
    };
    const c = new SaltApiClient({ url, username: 'u', password: 'p', eauth: 'pam' });
    const s = openSaltEvents(c, { clock });
    try {
      const first = await s.waitFor(() => true, 5000);
      assert.equal(first.raw.data.n, 1);
      const second = await s.waitFor(() => true, 5000);
      assert.equal(second.tag, 'a/c');
      assert.equal(slept[0], 1234);
    } finally {
      s.close();
      await c.close();
    }
  });
});
