import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hasCode } from '../../../../shared/errors.js';
import { nullLogger } from '../../../../shared/log/logger.js';
import { generateSigningKeyPair, keyFingerprint } from '../../../../shared/protocol/keys.js';
import { ENROLL_TAG } from '../../../../shared/protocol/enroll.js';
import { AgentRegistry, REGISTRY_FILE } from '../../../../conductor-agent/registry/store.js';
import { handleEnrollEvent, runEnrollListener } from '../../../../conductor-agent/registry/enroll-listener.js';
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
    const approved = await r.approve('router-1');
    assert.equal(approved.fingerprint, keyFingerprint(k2.publicPem));
    assert.equal(approved.source, 'operator');
    await assert.rejects(r.approve('router-1'), (e) => hasCode(e, 'AGENT_NOT_ENROLLED'));
  });

  it('is a 0600 file in a 0700 folder, read back by another instance, and survives concurrent writers', async () => {
    const a = await AgentRegistry.open(join(dir, 'state'));
    const b = await AgentRegistry.open(join(dir, 'state'));
    await Promise.all([a.enroll('r-a', k1.publicPem, { source: 'salt-event' }), b.enroll('r-b', k2.publicPem, { source: 'operator' })]);
    assert.equal((await stat(join(dir, 'state', REGISTRY_FILE))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'state'))).mode & 0o777, 0o700);
    const c = await AgentRegistry.open(join(dir, 'state'));
    assert.deepEqual(c.list().map((e) => e.minionId), ['r-a', 'r-b'], 'neither writer lost the other one\'s entry');
    await a.refresh();
    assert.ok(a.get('r-b'));
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

  it('records enrollments only from genuine minion events on our tag', async () => {
    const r = await AgentRegistry.open(dir, { flushDelayMs: 1 });
    const o = { registry: r, logger: nullLogger };
    const genuine = { tag: ENROLL_TAG, data: { id: 'router-9', cmd: '_minion_event', data: { agentPublicKey: k1.publicPem, agentVersion: '0.1.0', __pub_fun: 'event.send' } } };
    assert.equal(await handleEnrollEvent({ tag: ENROLL_TAG, data: { id: 'router-9', data: { agentPublicKey: k1.publicPem } } }, o), undefined, 'not fired by a minion');
    assert.equal(await handleEnrollEvent({ tag: ENROLL_TAG, data: { ...genuine.data, data: { agentPublicKey: '-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----' } } }, o), undefined, 'not a key');
    async function* events() { yield { raw: genuine }; yield genuine; }
    await runEnrollListener(events(), o);
    assert.equal(r.get('router-9')?.fingerprint, keyFingerprint(k1.publicPem));
  });
});
