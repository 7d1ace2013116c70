// The repin key gate over the new master's folders: what an attacker who owns one router id (or the
// new master's minions_pre/) can and cannot get accepted.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { localFiles } from '../../../../conductor-agent/migrate/files.js';
import { newMasterKeys } from '../../../../conductor-agent/migrate/repin.js';
import { rsaPair } from '../../../../sandbox/conductor-tree.js';
import { pemFinger } from '../../../../shared/salt/fingerprint.js';
import { makeTmpDir } from '../../../helpers/tmpdir.js';

const PKI = '/etc/128technology/salt/pki/master';

describe('migrate repin: the key gate on the new master', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const real = rsaPair(1024).publicKey;
  const other = rsaPair(1024).publicKey;
  let oldKeys: Map<string, string>;
  const gate = () =>
    newMasterKeys({
      files: localFiles(dir),
      newPkiDir: PKI,
      oldAccepted: async (id) => oldKeys.get(id),
      hashType: 'sha256',
    });
  const pending = (id: string, pem: string) =>
    mkdir(join(dir, PKI, 'minions_pre'), { recursive: true }).then(() =>
      writeFile(join(dir, PKI, 'minions_pre', id), pem),
    );

  beforeEach(async () => {
    ({ dir, cleanup } = await makeTmpDir());
    oldKeys = new Map([['r1', real]]);
  });
  afterEach(() => cleanup());

  it('accepts exactly the bytes of a pending key that is the reported one and the old master accepted', async () => {
    await pending('r1', real);
    const r = await gate().gate.check('r1', pemFinger(real));
    assert.deepEqual(r, { state: 'accepted', fingerprint: pemFinger(real) });
    assert.equal(await readFile(join(dir, PKI, 'minions', 'r1'), 'utf8'), real);
    assert.equal(existsSync(join(dir, PKI, 'minions_pre', 'r1')), false);
  });

  // Cause: the new master's sign-in lookup can fall between the gate's write of minions/<id> and its
  // removal of minions_pre/<id>, and write the same key pending again (see fleet KeyGate.settle).
  it('settle drops a pending copy of the accepted key, and leaves a different pending key', async () => {
    const g = gate();
    await pending('r1', real);
    await g.gate.check('r1', pemFinger(real));
    await pending('r1', real);
    await g.gate.settle!('r1');
    assert.equal(existsSync(join(dir, PKI, 'minions_pre', 'r1')), false);
    await pending('r1', other);
    await g.gate.settle!('r1');
    assert.equal(await readFile(join(dir, PKI, 'minions_pre', 'r1'), 'utf8'), other);
    assert.equal(await readFile(join(dir, PKI, 'minions', 'r1'), 'utf8'), real);
  });

  it('a key the agent reported but the old master never accepted for that id stays pending (agent of another router)', async () => {
    oldKeys.set('r1', other);
    await pending('r1', real);
    const r = await gate().gate.check('r1', pemFinger(real));
    assert.equal(r.state, 'mismatch');
    assert.equal(existsSync(join(dir, PKI, 'minions', 'r1')), false);
    assert.equal(await readFile(join(dir, PKI, 'minions_pre', 'r1'), 'utf8'), real);
  });

  it('a pending key that is not the reported one stays pending; no report means unverified, never accepted', async () => {
    await pending('r1', other);
    assert.equal((await gate().gate.check('r1', pemFinger(real))).state, 'mismatch');
    assert.equal((await gate().gate.check('r1', undefined)).state, 'unverified');
    assert.equal(existsSync(join(dir, PKI, 'minions', 'r1')), false);
  });

  it('refuses ids that are paths; lists the statuses of the ids asked', async () => {
    assert.equal((await gate().gate.check('../minions/x', pemFinger(real))).state, 'failed');
    await pending('r1', real);
    const { keys, pending: fps } = await gate().lists(['r1', 'r2', '../x']);
    assert.deepEqual(keys, { accepted: [], pending: ['r1'], rejected: [], denied: [] });
    assert.equal(fps.get('r1'), pemFinger(real));
  });
});
