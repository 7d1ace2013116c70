import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import { WebSocketServer } from 'ws';
import { nullLogger } from '../../../shared/log/logger.js';
import { systemClock } from '../../../shared/ports/clock.js';
import { systemRandom } from '../../../shared/ports/random.js';
import { generateSigningKeyPair } from '../../../shared/protocol/signing-keys.js';
import { AGENT_WS_PATH } from '../../../shared/protocol/messages.js';
import { loadOrCreateConductorIdentity } from '../../../conductor-agent/identity/agent-key.js';
import { backoffDelay, ConductorLink } from '../../../router-agent/ws/client.js';
import { makeTmpDir } from '../../helpers/tmpdir.js';
import { until } from '../../helpers/agents.js';

describe('router-agent/ws/client', () => {
  it('backs off exponentially with jitter, between min and the cap', () => {
    assert.equal(backoffDelay(0, 500, 30_000, 0), 500);
    assert.equal(backoffDelay(0, 500, 30_000, 0.999), 500);
    assert.equal(backoffDelay(3, 500, 30_000, 1), 4000);
    assert.equal(backoffDelay(30, 500, 30_000, 1), 30_000);
    const d = backoffDelay(4, 500, 30_000, 0.5);
    assert.ok(d > 500 && d < 8000);
  });

  it('drops a conductor that goes silent (no heartbeat answers) and reconnects', async () => {
    const { dir, cleanup } = await makeTmpDir();
    const id = await loadOrCreateConductorIdentity(dir);
    const https = createServer({ key: id.tlsKeyPem, cert: id.tlsCertPem });
    const wss = new WebSocketServer({ server: https, path: AGENT_WS_PATH });
    let connections = 0;
    // A conductor that says hello and accepts ours, then never answers anything again.
    wss.on('connection', (ws) => {
      connections++;
      ws.send(
        JSON.stringify({ v: 1, type: 'hello', role: 'conductor', challenge: 'c'.repeat(24), serverTime: Date.now() }),
      );
      ws.once('message', () => ws.send(JSON.stringify({ v: 1, type: 'ack', id: 'hello', ok: true, enrolled: true })));
    });
    await new Promise<void>((r) => https.listen(0, '127.0.0.3', () => r()));
    const port = (https.address() as { port: number }).port;
    const key = generateSigningKeyPair();
    const link = new ConductorLink({
      url: `wss://127.0.0.3:${port}${AGENT_WS_PATH}`,
      certFingerprints: [id.certFingerprint],
      routerId: 'r1',
      agentKey: key,
      agentVersion: 't',
      clock: systemClock,
      random: systemRandom,
      logger: nullLogger,
      heartbeatMs: 80,
      backoffMinMs: 10,
      backoffMaxMs: 20,
    });
    let readies = 0;
    link.on('ready', () => {
      readies++;
    });
    link.start();
    try {
      await until(() => readies >= 2 && connections >= 2, 10_000, 'a reconnect after the silent peer was dropped');
    } finally {
      await link.stop();
      wss.close();
      await new Promise<void>((r) => https.close(() => r()));
      await cleanup();
    }
  });
});
