import assert from 'node:assert/strict';
import fs from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sinon from 'sinon';
import { hasCode } from '../../../../shared/errors.js';
import { generateSigningKeyPair, keyFingerprint } from '../../../../shared/protocol/signing-keys.js';
import { AgentRegistry, REGISTRY_FILE } from '../../../../conductor-agent/registry/store.js';
import { makeTmpDir } from '../../../helpers/tmpdir.js';

describe('conductor-agent/registry', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await makeTmpDir()));
  afterEach(() => cleanup());
  const k1 = generateSigningKeyPair();
  const k2 = generateSigningKeyPair();

  it('enrolls a new router, keeps the same key unchanged, and holds a changed key for approval', async () => {
    const r = await AgentRegistry.open(dir);
    assert.equal(await r.enroll('router-1', k1.publicPem, { source: 'salt-event', agentVersion: '0.1.0' }), 'enrolled');
    assert.equal(await r.enroll('router-1', k1.publicPem, { source: 'salt-event' }), 'unchanged');
    assert.equal(await r.enroll('router-1', k2.publicPem, { source: 'salt-event' }), 'pending-approval');
    assert.equal(r.get('router-1')?.fingerprint, keyFingerprint(k1.publicPem), 'the enrolled key did not change');
    assert.equal(r.get('router-1')?.pending?.fingerprint, keyFingerprint(k2.publicPem));
    await assert.rejects(r.approve('router-1', keyFingerprint(k1.publicPem)), (e) => hasCode(e, 'AGENT_KEY_CHANGED'));
    await assert.rejects(r.approve('router-1', ''), (e) => hasCode(e, 'USAGE'), 'the fingerprint is required');
    const approved = await r.approve('router-1', keyFingerprint(k2.publicPem));
    assert.equal(approved.fingerprint, keyFingerprint(k2.publicPem));
    assert.equal(approved.source, 'operator');
    await assert.rejects(r.approve('router-1', keyFingerprint(k2.publicPem)), (e) => hasCode(e, 'AGENT_NOT_ENROLLED'));
  });

  it('is a 0600 file in a 0700 folder, read back by another instance, and survives concurrent writers', async () => {
    const a = await AgentRegistry.open(join(dir, 'state'));
    const b = await AgentRegistry.open(join(dir, 'state'));
    await Promise.all([
      a.enroll('r-a', k1.publicPem, { source: 'salt-event' }),
      b.enroll('r-b', k2.publicPem, { source: 'operator' }),
    ]);
    assert.equal((await stat(join(dir, 'state', REGISTRY_FILE))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'state'))).mode & 0o777, 0o700);
    const c = await AgentRegistry.open(join(dir, 'state'));
    assert.deepEqual(
      c.list().map((e) => e.minionId),
      ['r-a', 'r-b'],
      "neither writer lost the other one's entry",
    );
    await a.refresh();
    assert.ok(a.get('r-b'));
  });

  // Regression: every batch re-parsed the whole file, the daemon's largest garbage source while
  // 10,000 agents reconnected and reported once a second.
  it('changes an unchanged registry in memory, yet merges a change another process wrote first', async () => {
    const a = await AgentRegistry.open(dir, { flushDelayMs: 5 });
    await a.enroll('r-1', k1.publicPem, { source: 'salt-event' });
    const entry = a.get('r-1');
    await a.enroll('r-2', k2.publicPem, { source: 'salt-event' });
    assert.equal(a.get('r-1'), entry, 'the file was not read again: the same entry object');
    const b = await AgentRegistry.open(dir, { flushDelayMs: 5 });
    await b.enroll('r-3', generateSigningKeyPair().publicPem, { source: 'operator' });
    await a.remove('r-2');
    const onDisk = JSON.parse(await readFile(join(dir, REGISTRY_FILE), 'utf8')).routers;
    assert.deepEqual(Object.keys(onDisk).sort(), ['r-1', 'r-3'], "the other writer's entry is kept");
  });

  // Regression (CI): the registry told its own last write from another process's by mtime alone.
  // The kernel stamps files from a coarse clock, so a write by the CLI within a few milliseconds
  // of the daemon's carried the same mtime, and the daemon's next batch dropped the CLI's entry.
  it('a write by another process with the same mtime (coarse file clock) is still merged', async () => {
    const realStat = fs.promises.stat.bind(fs.promises);
    const frozen = new Date('2026-12-01T00:00:00Z');
    sinon.stub(fs.promises, 'stat').callsFake(async (...args: Parameters<typeof realStat>) => {
      const st = (await realStat(...args)) as fs.Stats;
      return Object.assign(st, { mtimeMs: frozen.getTime(), mtime: frozen });
    });
    try {
      const a = await AgentRegistry.open(dir, { flushDelayMs: 5 });
      await a.enroll('r-1', k1.publicPem, { source: 'salt-event' });
      const b = await AgentRegistry.open(dir, { flushDelayMs: 5 });
      await b.enroll('r-3', k2.publicPem, { source: 'operator' });
      await a.enroll('r-2', generateSigningKeyPair().publicPem, { source: 'salt-event' });
      const onDisk = JSON.parse(await readFile(join(dir, REGISTRY_FILE), 'utf8')).routers;
      assert.deepEqual(Object.keys(onDisk).sort(), ['r-1', 'r-2', 'r-3'], "the other writer's entry is kept");
    } finally {
      sinon.restore();
    }
  });

  it('coalesces a burst of enrollments into few writes', async () => {
    const r = await AgentRegistry.open(dir, { flushDelayMs: 20 });
    const keys = Array.from({ length: 200 }, () => generateSigningKeyPair().publicPem);
    const results = await Promise.all(keys.map((k, i) => r.enroll(`r${i}`, k, { source: 'salt-event' })));
    assert.ok(results.every((x) => x === 'enrolled'));
    assert.equal(Object.keys(JSON.parse(await readFile(join(dir, REGISTRY_FILE), 'utf8')).routers).length, 200);
  });

  it('refuses an unreadable registry with FS_UNREADABLE instead of starting empty', async () => {
    await writeFile(join(dir, REGISTRY_FILE), '{not json');
    await assert.rejects(AgentRegistry.open(dir), (e) => hasCode(e, 'FS_UNREADABLE'));
  });

  it('waits for the lock through the clock and random ports (regression: Math.random/setTimeout bypassed them)', async () => {
    const slept: number[] = [];
    const clock = {
      now: () => Date.now(),
      setTimeout,
      clearTimeout,
      sleep: async (ms: number) => {
        slept.push(ms);
        await new Promise((res) => setTimeout(res, 1));
      },
    };
    const lockFile = join(dir, 'reg.lock');
    const r = await AgentRegistry.open(dir, {
      lockFile,
      flushDelayMs: 1,
      clock,
      random: { bytes: () => Buffer.alloc(0), id: () => 'x', float: () => 0.5 },
    });
    const { acquireLock } = await import('../../../../shared/fs/lock.js');
    const lock = await acquireLock(lockFile, { purpose: 'test' });
    const p = r.enroll('router-1', k1.publicPem, { source: 'operator' });
    while (slept.length < 2) await new Promise((res) => setTimeout(res, 2));
    await lock.release();
    assert.equal(await p, 'enrolled');
    assert.ok(
      slept.every((ms) => ms === 15),
      'jitter came from the random port',
    );
  });
  // Cause: every hello and every command stat'ed the registry file; 1,000 agents connecting at once
  // cost 1,000 stats. Concurrent refreshes now share one, and a caller never shares a check that
  // began before its own call (it could miss a change made just before).
  it('concurrent refreshes share one check and still see a change another process made before they were called', async () => {
    const a = await AgentRegistry.open(join(dir, 'state'));
    const b = await AgentRegistry.open(join(dir, 'state'));
    const first = Array.from({ length: 50 }, () => a.refresh());
    await b.enroll('r-late', k1.publicPem, { source: 'operator' });
    const second = Array.from({ length: 50 }, () => a.refresh());
    await Promise.all([...first, ...second]);
    assert.equal(a.get('r-late')?.fingerprint, keyFingerprint(k1.publicPem));
    await b.enroll('r-later', k2.publicPem, { source: 'operator' });
    await a.refresh();
    assert.equal(
      a.get('r-later')?.fingerprint,
      keyFingerprint(k2.publicPem),
      'the next refresh after all settled checks again',
    );
  });
});
