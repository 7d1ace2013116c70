import assert from 'node:assert/strict';
import { evaluateReadiness } from '../../../../conductor-agent/keys/readiness.js';
import { saltApiMinionProbe, type SaltLocalCaller } from '../../../../conductor-agent/keys/minion-probe.js';
import { pemFinger } from '../../../../shared/salt/fingerprint.js';
import { rsaPair } from './sandbox.js';

describe('conductor-agent/keys/readiness and the salt-api minion probe', () => {
  it('regression: a minion pinning master_finger would accept the signed key then exit 42 — not ready', () => {
    const r = evaluateReadiness(
      ['p', 'q', 'u'],
      new Map([
        ['p', { id: 'p', responded: true, verifies: true, signKeyFingerprint: 'f', masterFinger: 'aa:bb' }],
        ['q', { id: 'q', responded: true, verifies: true, signKeyFingerprint: 'f', masterFinger: '' }],
        ['u', { id: 'u', responded: true, verifies: true, signKeyFingerprint: 'f', masterFinger: null }],
      ]),
      'f',
    );
    assert.deepEqual(r.ready, ['q']);
    assert.deepEqual(r.notReady, [
      { id: 'p', reason: 'master-finger-pinned' },
      { id: 'u', reason: 'master-finger-pinned' },
    ]);
  });

  it('classifies minions: no answer, verification off, key missing, key differs, ready', () => {
    const r = evaluateReadiness(
      ['a', 'b', 'c', 'd', 'e'],
      new Map([
        ['b', { id: 'b', responded: true, verifies: false, signKeyFingerprint: 'f' }],
        ['c', { id: 'c', responded: true, verifies: true, signKeyFingerprint: null }],
        ['d', { id: 'd', responded: true, verifies: true, signKeyFingerprint: 'g' }],
        ['e', { id: 'e', responded: true, verifies: true, signKeyFingerprint: 'f' }],
      ]),
      'f',
    );
    assert.deepEqual(r.ready, ['e']);
    assert.deepEqual(
      r.notReady.map((x) => x.reason),
      ['no-answer', 'verification-off', 'sign-key-missing', 'sign-key-differs'],
    );
  });

  it('pings first (salt-api reports silence as false), then asks with read-only calls and reads each master_sign.pub', async () => {
    const signPub = rsaPair().publicKey;
    const calls: string[] = [];
    const salt: SaltLocalCaller = {
      async local(tgt, fun, arg = []) {
        calls.push(`${fun} ${JSON.stringify(arg)} ${JSON.stringify(tgt)}`);
        if (fun === 'config.get' && arg[0] === 'verify_master_pubkey_sign') return { m1: true, m2: false };
        if (fun === 'config.get' && arg[0] === 'pki_dir')
          return { m1: '/etc/salt/pki/minion', m2: '/etc/salt/pki/minion' };
        if (fun === 'config.get' && arg[0] === 'master_finger') return { m1: '', m2: 'ab:cd' };
        if (fun === 'config.get') return { m1: 'master_sign', m2: 'master_sign' };
        if (fun === 'file.read') return { m1: signPub, m2: 'ERROR: No such file' };
        if (fun === 'test.ping') return { m1: true, m2: true, m3: false };
        return {};
      },
    };
    const probe = saltApiMinionProbe(salt);
    const reports = await probe.signingReports(['m1', 'm2', 'm3']);
    assert.deepEqual(reports.get('m1'), {
      id: 'm1',
      responded: true,
      verifies: true,
      signKeyFingerprint: pemFinger(signPub),
      masterFinger: '',
    });
    assert.equal(reports.get('m2')?.masterFinger, 'ab:cd');
    assert.equal(reports.get('m2')?.verifies, false);
    assert.equal(reports.get('m2')?.signKeyFingerprint, null);
    assert.equal(reports.get('m3')?.responded, false);
    assert.ok(calls.some((c) => c.startsWith('file.read ["/etc/salt/pki/minion/master_sign.pub"]')));
    assert.deepEqual([...(await probe.ping(['m1', 'm3']))], ['m1']);
    assert.ok(
      !calls.some((c) => c.startsWith('config.get') && c.includes('m3')),
      'silent minions are not asked further',
    );
  });
});
