import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { RecoveryError, hasCode } from '../../../../shared/errors.js';
import { controlRequest, startControlServer } from '../../../../conductor-agent/ws/control.js';
import { parseListen } from '../../../../conductor-agent/ws/service.js';
import { mergeFleet, renderFleet } from '../../../../conductor-agent/ws/fleet-view.js';
import { makeTmpDir } from '../../../helpers/tmpdir.js';

describe('conductor-agent/ws/control (the CLI ⇄ daemon socket)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await makeTmpDir()));
  afterEach(() => cleanup());

  it("answers requests, carries the daemon's error codes back, and is 0600", async () => {
    const sock = join(dir, 'control.sock');
    const server = await startControlServer(sock, {
      echo: async (a) => ({ got: a }),
      fail: async () => {
        throw new RecoveryError('AGENT_UNREACHABLE', 'router r1 is not connected');
      },
    });
    try {
      assert.equal((await stat(sock)).mode & 0o777, 0o600);
      assert.deepEqual(await controlRequest(sock, 'echo', { x: 1 }), { got: { x: 1 } });
      await assert.rejects(controlRequest(sock, 'fail'), (e) => hasCode(e, 'AGENT_UNREACHABLE'));
      await assert.rejects(controlRequest(sock, 'nope'), (e) => hasCode(e, 'USAGE'));
      await assert.rejects(startControlServer(sock, {}), (e) => hasCode(e, 'LOCK_HELD'), 'a second daemon is refused');
    } finally {
      await server.close();
    }
    await assert.rejects(controlRequest(sock, 'echo'), (e) => hasCode(e, 'AGENT_DAEMON_UNREACHABLE'));
  });

  it('replaces a stale socket left by a dead daemon', async () => {
    const sock = join(dir, 'control.sock');
    const s1 = await startControlServer(sock, {});
    await new Promise<void>((r) => {
      (s1 as unknown as { close: () => Promise<void> }).close().then(() => r());
    });
    const { writeFile } = await import('node:fs/promises');
    await writeFile(sock, '');
    const s2 = await startControlServer(sock, { ping: async () => 'pong' });
    assert.equal(await controlRequest(sock, 'ping'), 'pong');
    await s2.close();
  });

  it('parses agents.listen and renders the fleet view from live state and registry', () => {
    assert.deepEqual(parseListen('0.0.0.0:4507'), { host: '0.0.0.0', port: 4507 });
    assert.deepEqual(parseListen('[::1]:4507'), { host: '::1', port: 4507 });
    assert.throws(
      () => parseListen('nope'),
      (e) => hasCode(e, 'CONFIG_INVALID'),
    );
    const fleet = mergeFleet(
      [{ routerId: 'b', connected: true, enrolled: false, trust: 'trusted' }],
      [
        {
          minionId: 'a',
          agentPublicKey: 'k',
          fingerprint: 'aa:bb',
          source: 'salt-event',
          enrolledAt: 'x',
          seenAt: 'x',
          pending: { agentPublicKey: 'k2', fingerprint: 'cc:dd:ee:ff:00:11', seenAt: 'y', source: 'salt-event' },
        },
        { minionId: 'b', agentPublicKey: 'k', fingerprint: 'bb', source: 'salt-event', enrolledAt: 'x', seenAt: 'x' },
      ],
    );
    assert.deepEqual(
      fleet.map((e) => [e.routerId, e.connected, e.enrolled, e.trust ?? '-']),
      [
        ['a', false, true, '-'],
        ['b', true, true, 'trusted'],
      ],
    );
    assert.match(renderFleet(fleet), /key change pending approval/);
  });
});
