// A wave killed (kill -9) in the middle of a key accept leaves the pending key under its claim name
// in `minions/` (hidden from Salt's listings). The next wave's gate puts it back to `minions_pre`
// before its first listing, so it is checked again, and never accepts it unchecked.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { recoverClaims } from '../../../../conductor-agent/keys/accept.js';
import { pkiKeyGate } from '../../../../conductor-agent/fleet/key-gate.js';
import { pemFinger } from '../../../../shared/salt/fingerprint.js';
import { pkiDir, pub } from './wave-fixtures.js';

describe('fleet key gate: claims left by a killed accept', () => {
  const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid!;

  it("regression (hidden claim left in minions/): a dead accept's claim goes back to pending and is checked again", async () => {
    const { dir, cleanup } = await pkiDir();
    try {
      const k = pub();
      await writeFile(join(dir, `minions/.r1.${deadPid()}.0123abcd.tmp`), k);
      const gate = pkiKeyGate(dir);
      assert.deepEqual([...(await gate.pendingIds!())], ['r1'], 'back in minions_pre before the listing');
      assert.deepEqual(await readdir(join(dir, 'minions')), [], 'no claim left');
      assert.equal((await gate.check('r1', pemFinger(pub()))).state, 'mismatch', 'checked again, not accepted');
      assert.equal((await gate.check('r1', pemFinger(k))).state, 'accepted');
      assert.equal(await readFile(join(dir, 'minions/r1'), 'utf8'), k);
    } finally {
      await cleanup();
    }
  });

  it('a claim whose key the master wrote pending again is dropped; a live accept and other files are left alone', async () => {
    const { dir, cleanup } = await pkiDir();
    try {
      const again = pub();
      await writeFile(join(dir, `minions/.r2.${deadPid()}.0123abcd.tmp`), pub());
      await writeFile(join(dir, 'minions_pre/r2'), again);
      const live = `.r3.${process.ppid}.0123abcd.tmp`;
      await writeFile(join(dir, `minions/${live}`), pub());
      await writeFile(join(dir, 'minions/r4'), pub());
      assert.deepEqual(await recoverClaims(dir), ['r2']);
      assert.equal(await readFile(join(dir, 'minions_pre/r2'), 'utf8'), again, 'the newer pending key kept');
      assert.deepEqual((await readdir(join(dir, 'minions'))).sort(), [live, 'r4']);
    } finally {
      await cleanup();
    }
  });
});
