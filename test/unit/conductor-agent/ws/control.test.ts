import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import sinon from 'sinon';
import { RecoveryError, hasCode } from '../../../../shared/errors.js';
import { ControlChannel, controlRequest, startControlServer } from '../../../../conductor-agent/ws/control.js';
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

  // Regression (wave CPU): a connection per request cost a connect, an accept and a close on both
  // sides for every router of a wave.
  it('one channel carries many requests at once, answered out of order, each to its caller', async () => {
    const sock = join(dir, 'control.sock');
    const server = await startControlServer(sock, {
      slow: async (a) => {
        await new Promise((r) => setTimeout(r, Number(a.ms)));
        if (a.fail) throw new RecoveryError('AGENT_UNREACHABLE', `router ${String(a.n)} is not connected`);
        return { n: a.n };
      },
    });
    const channel = new ControlChannel(sock);
    try {
      const calls = Array.from({ length: 300 }, (_, n) =>
        channel.request<{ n: number }>('slow', { n, ms: (n * 7) % 40, fail: n % 50 === 0 }).then(
          (r) => ['ok', r.n] as const,
          (e: RecoveryError) => [e.code, e.message] as const,
        ),
      );
      const results = await Promise.all(calls);
      for (const [n, r] of results.entries()) {
        assert.deepEqual(r, n % 50 === 0 ? ['AGENT_UNREACHABLE', `router ${n} is not connected`] : ['ok', n]);
      }
    } finally {
      channel.close();
      await server.close();
    }
  });

  // Regression (fleet view read quadratically): each 64 KB chunk of a multi-megabyte answer was
  // joined to everything received before it and split again, about 1 s of the CLI's CPU in the wave.
  it('a multi-megabyte answer in many chunks arrives whole and is split once, not once per chunk', async () => {
    const sock = join(dir, 'control.sock');
    const routers = Array.from({ length: 8000 }, (_, n) => ({ routerId: `r${n}`, note: 'é'.repeat(n % 300) }));
    const server = await startControlServer(sock, { fleet: async () => routers });
    const channel = new ControlChannel(sock);
    const split = sinon.spy(String.prototype, 'split');
    try {
      const got = await channel.request<typeof routers>('fleet', {});
      assert.deepEqual(got, routers);
      const big = split.thisValues.filter((t, i) => String(split.args[i]![0]) === '\n' && String(t).length > 200_000);
      assert.equal(big.length, 1, `the answer's text was split ${big.length} times`);
    } finally {
      split.restore();
      channel.close();
      await server.close();
    }
  });

  it('a request the daemon does not answer in time fails alone; the channel goes on', async () => {
    const sock = join(dir, 'control.sock');
    const server = await startControlServer(sock, {
      hang: () => new Promise(() => undefined),
      ping: async () => 'pong',
    });
    const channel = new ControlChannel(sock);
    try {
      await assert.rejects(channel.request('hang', {}, 100), (e) => hasCode(e, 'AGENT_TIMEOUT'));
      assert.equal(await channel.request('ping'), 'pong');
      // The daemon stopping with the channel open and a request waiting: it does not wait for the CLI.
      const waiting = channel.request('hang');
      await server.close();
      await assert.rejects(waiting, (e) => hasCode(e, 'AGENT_DAEMON_UNREACHABLE'));
    } finally {
      channel.close();
      await server.close();
    }
  });

  it('a daemon that drops the connection fails what waits (AGENT_DAEMON_UNREACHABLE); the next request reconnects', async () => {
    const sock = join(dir, 'control.sock');
    let n = 0;
    const raw = createServer((s) => {
      n++;
      s.once('data', (d) => {
        const { id } = JSON.parse(String(d).split('\n')[0]!) as { id: number };
        if (n === 1)
          s.destroy(); // the daemon died mid-request
        else s.write(`${JSON.stringify({ id, ok: true, result: 'back' })}\n`);
      });
    });
    await new Promise<void>((r) => raw.listen(sock, r));
    const channel = new ControlChannel(sock);
    try {
      await assert.rejects(channel.request('reauth'), (e) => hasCode(e, 'AGENT_DAEMON_UNREACHABLE'));
      assert.equal(await channel.request('reauth'), 'back');
    } finally {
      channel.close();
      await new Promise((r) => raw.close(r));
    }
  });

  it('a request without an id (a client of an earlier version) is answered and the connection ended', async () => {
    const sock = join(dir, 'control.sock');
    const server = await startControlServer(sock, { ping: async () => 'pong' });
    try {
      const text = await new Promise<string>((resolve, reject) => {
        const s = createConnection(sock, () => s.write('{"op":"ping"}\n'));
        let out = '';
        s.on('data', (d) => {
          out += String(d);
        });
        s.on('end', () => resolve(out));
        s.on('error', reject);
      });
      assert.deepEqual(JSON.parse(text), { ok: true, result: 'pong' });
    } finally {
      await server.close();
    }
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
