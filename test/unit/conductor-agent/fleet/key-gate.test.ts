import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pemFinger } from '../../../../shared/salt/fingerprint.js';
import { pkiKeyGate } from '../../../../conductor-agent/fleet/key-gate.js';
import { makeTmpDir } from '../../../helpers/tmpdir.js';

const pub = (): string =>
  generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('fleet key gate', () => {
  it('accepts exactly the reported key, leaves a foreign one pending, and says unverified without a report', async () => {
    const { dir, cleanup } = await makeTmpDir();
    try {
      await mkdir(join(dir, 'minions_pre'), { recursive: true });
      await mkdir(join(dir, 'minions'), { recursive: true });
      const real = pub();
      const foreign = pub();
      await writeFile(join(dir, 'minions_pre/a'), real);
      await writeFile(join(dir, 'minions_pre/b'), foreign);
      await writeFile(join(dir, 'minions_pre/c'), real);
      const gate = pkiKeyGate(dir);
      assert.deepEqual(await gate.check('a', pemFinger(real)), { state: 'accepted', fingerprint: pemFinger(real) });
      assert.equal((await gate.check('b', pemFinger(real))).state, 'mismatch');
      assert.equal((await gate.check('c', undefined)).state, 'unverified');
      assert.equal((await gate.check('zz', pemFinger(real))).state, 'none');
      assert.equal(await readFile(join(dir, 'minions/a'), 'utf8'), real);
      assert.deepEqual((await readdir(join(dir, 'minions_pre'))).sort(), ['b', 'c']);
    } finally {
      await cleanup();
    }
  });

  // Found by the fleet bench: Salt writes minions_pre/<id> in place, and a gate poll that read it
  // half-written reported the router as a possible impostor.
  it('a pending key read while the master is still writing it is not an impostor', async () => {
    const { dir, cleanup } = await makeTmpDir();
    try {
      await mkdir(join(dir, 'minions_pre'), { recursive: true });
      await mkdir(join(dir, 'minions'), { recursive: true });
      const real = pub();
      await writeFile(join(dir, 'minions_pre/a'), real.slice(0, 100));
      const gate = pkiKeyGate(dir);
      assert.deepEqual(await gate.check('a', pemFinger(real)), { state: 'none' });
      await writeFile(join(dir, 'minions_pre/a'), real);
      assert.equal((await gate.check('a', pemFinger(real))).state, 'accepted');
    } finally {
      await cleanup();
    }
  });
});
