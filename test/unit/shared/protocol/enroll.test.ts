import assert from 'node:assert/strict';
import { ENROLL_TAG, parseEnrollEvent } from '../../../../shared/protocol/enroll.js';

describe('shared/protocol/enroll', () => {
  const key = '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n';
  it('reads the minion id the master put beside the payload (reference §10 event shape)', () => {
    const data = { id: 'router-1', tag: ENROLL_TAG, cmd: '_minion_event', data: { agentPublicKey: key, agentKeyFingerprint: 'ab', agentVersion: '0.1.0', __pub_fun: 'event.send' }, _stamp: 'x' };
    assert.deepEqual(parseEnrollEvent(ENROLL_TAG, data), { minionId: 'router-1', payload: { agentPublicKey: key, agentKeyFingerprint: 'ab', agentVersion: '0.1.0' } });
  });
  it('ignores other tags, events not fired by a minion, and payloads without a key', () => {
    assert.equal(parseEnrollEvent('salt/auth', { id: 'r', cmd: '_minion_event', data: { agentPublicKey: key } }), undefined);
    assert.equal(parseEnrollEvent(ENROLL_TAG, { id: 'r', data: { agentPublicKey: key } }), undefined);
    assert.equal(parseEnrollEvent(ENROLL_TAG, { cmd: '_minion_event', data: { agentPublicKey: key } }), undefined);
    assert.equal(parseEnrollEvent(ENROLL_TAG, { id: 'r', cmd: '_minion_event', data: { agentPublicKey: 'nope' } }), undefined);
  });
});
