// Real Salt: `keys enable-signing`, the router side rolled out (master_sign.pub in each minion's pki
// folder, verify_master_pubkey_sign: True), then `keys rotate`: the real master restarts with a new
// key pair and the real minions follow by themselves (they verify the signed new key).
import assert from 'node:assert/strict';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pemFingerFile } from '../../shared/salt/fingerprint.js';
import { startRig, type Rig } from './rig.js';
import { cli, conductorBin, saltKeyMasterFinger, writeConductorConfig } from './support.js';

describe('real Salt: keys enable-signing and rotate with real minions following', () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig({ minions: 2 });
    writeConductorConfig(rig);
  });
  after(async () => {
    await rig?.stop();
  });

  const keys = (...args: string[]) => cli(conductorBin, ['keys', ...args, '--json', '--root', rig.root], rig.env);

  it('enable-signing, roll the signing key out to the minions, restart: status shows a valid signature', async () => {
    const r = await keys('enable-signing');
    assert.equal(r.code, 0, `${r.out}\n${r.err}`);
    const exported = join(rig.root, 'srv/salt/ssr_recovery/files/master_sign.pub');
    // what the ssr_recovery router state does on every router
    for (const id of rig.minionIds) {
      await copyFile(exported, join(rig.minionRoot(id), 'etc/salt/pki/minion/master_sign.pub'));
      const conf = join(rig.minionConfigDir(id), 'minion.d/ssr-recovery-signing.conf');
      await writeFile(conf, 'verify_master_pubkey_sign: True\n');
    }
    await rig.restartMaster();
    await Promise.all(rig.minionIds.map((id) => rig.stopMinion(id)));
    await Promise.all(rig.minionIds.map((id) => rig.startMinion(id)));
    await rig.waitPing(rig.minionIds, 120_000);
    const s = await keys('status');
    const doc = s.json as { signing: { enabled: boolean; signatureValid: boolean | null } };
    assert.equal(doc.signing.enabled, true);
    assert.equal(doc.signing.signatureValid, true);
  });

  it('rotate: a new master key, and every real minion answers the restarted master with it cached', async () => {
    const before = await saltKeyMasterFinger(rig);
    const dry = await keys('rotate', '--dry-run');
    assert.equal(dry.code, 0, `every minion should be ready:\n${dry.out}\n${dry.err}`);
    const r = await keys('rotate', '--wait', '150');
    assert.equal(r.code, 0, `${r.out}\n${r.err.slice(-3000)}`);
    const after = await saltKeyMasterFinger(rig);
    assert.notEqual(after, before);
    await rig.waitPing(rig.minionIds, 120_000);
    for (const id of rig.minionIds) {
      const cached = await pemFingerFile(join(rig.minionRoot(id), 'etc/salt/pki/minion/minion_master.pub'));
      assert.equal(cached, after, `${id} follows`);
    }
  });
});
