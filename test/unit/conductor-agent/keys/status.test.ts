import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { masterKeyStatus } from '../../../../conductor-agent/keys/status.js';
import { colonHex } from '../../../../shared/salt/fingerprint.js';
import { keySandbox, rsaPair, type KeySandbox } from './sandbox.js';

const sha256sumFinger = (file: string): string =>
  colonHex(
    execFileSync('sh', ['-c', 'grep -v -- "-----" "$1" | sha256sum', 'sh', file], { encoding: 'utf8' }).split(' ')[0]!,
  );

describe('conductor-agent/keys/status: masterKeyStatus', () => {
  let s: KeySandbox;
  beforeEach(async () => {
    s = await keySandbox({ minions: 3, pending: 2 });
  });
  afterEach(() => s.cleanup());

  it('reports the master fingerprint as `grep -v ----- master.pub | sha256sum`, key counts and pending fingerprints', async () => {
    const st = await masterKeyStatus({ pkiDir: s.pkiDir, masterConfig: s.masterConfig });
    assert.equal(st.master.fingerprint, sha256sumFinger(join(s.pkiDir, 'master.pub')));
    assert.equal(st.master.pairMatches, true);
    assert.deepEqual(st.minions, { accepted: 3, pending: 2, rejected: 0, denied: 0 });
    assert.deepEqual(
      st.pending.map((p) => p.id),
      ['pending-1', 'pending-2'],
    );
    for (const p of st.pending) assert.equal(p.fingerprint, sha256sumFinger(join(s.pkiDir, 'minions_pre', p.id)));
    assert.equal(st.signing.enabled, false);
    assert.deepEqual(st.warnings, []);
  });

  it('cross-checks with openssl-made keys (openssl rsa -pubout)', async () => {
    execFileSync('openssl', ['genrsa', '-out', join(s.pkiDir, 'master.pem'), '2048'], { stdio: 'ignore' });
    execFileSync(
      'openssl',
      ['rsa', '-in', join(s.pkiDir, 'master.pem'), '-pubout', '-out', join(s.pkiDir, 'master.pub')],
      { stdio: 'ignore' },
    );
    const st = await masterKeyStatus({ pkiDir: s.pkiDir, masterConfig: s.masterConfig });
    assert.equal(st.master.fingerprint, sha256sumFinger(join(s.pkiDir, 'master.pub')));
    assert.equal(st.master.pairMatches, true);
  });

  it('warns when master.pem and master.pub are not one pair, and when signing is on without its key', async () => {
    await writeFile(join(s.pkiDir, 'master.pub'), rsaPair().publicKey);
    await writeFile(s.masterConfig, 'master_sign_pubkey: True\n');
    const st = await masterKeyStatus({ pkiDir: s.pkiDir, masterConfig: s.masterConfig });
    assert.equal(st.master.pairMatches, false);
    assert.equal(st.signing.enabled, true);
    assert.equal(st.warnings.length, 2);
  });
});
