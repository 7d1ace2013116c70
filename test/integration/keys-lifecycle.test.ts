// Key lifecycle end to end against the Salt simulators: verified accept, enable-signing, rotate with
// simulated minions over real salt-api HTTP (signing-aware minions follow the new key; the rest are
// reported), rollback. The CLI runs in-process; salt-master restarts go through the configured
// service command line (master-ctl), as `systemctl restart salt-master` would on a conductor.
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanKey, pemFinger } from '../../shared/salt/fingerprint.js';
import { memoryIo } from '../helpers/cli.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { startSaltSandbox, type SaltSandbox } from '../../sandbox/saltapi-emulator/sandbox.js';
import { startMasterControl, type MasterControl } from '../../sandbox/salt/master-control.js';
import { writeKeysConfig } from '../helpers/salt-api-config.js';
import { runMinionInProcess, writeSimRouter, type SimRouterPaths } from '../../sandbox/salt/minion-setup.js';
import { rsaPair } from '../../sandbox/conductor-tree.js';

interface Router {
  id: string;
  paths: SimRouterPaths;
  minion: { stop(): Promise<number> } | undefined;
}

describe('keys lifecycle with simulated master, salt-api and minions', function () {
  this.timeout(120_000);
  let root: string;
  let cleanup: () => Promise<void>;
  let salt: SaltSandbox;
  let ctl: MasterControl;
  const routers: Router[] = [];

  const cli = async (...args: string[]) => {
    const { main } = await import('../../conductor-agent/cli/main.js');
    const io = memoryIo();
    const code = await main(['--root', root, '--json', ...args], io);
    return { code, doc: JSON.parse(io.out() || '{}'), err: io.err() };
  };
  const masterPub = () => readFile(join(salt.pkiDir, 'master.pub'), 'utf8');
  const cached = (r: Router) => readFile(join(r.paths.pkiDir, 'minion_master.pub'), 'utf8');
  const startMinion = (r: Router) => {
    r.minion = runMinionInProcess(r.paths);
  };
  const restartMinion = async (r: Router) => {
    await r.minion?.stop();
    startMinion(r);
  };

  before(async () => {
    ({ dir: root, cleanup } = await makeTmpDir('ssr-keys-e2e-'));
    salt = await startSaltSandbox({ root: join(root) });
    ctl = await startMasterControl(salt.master);
    await writeKeysConfig(root, salt, ctl);
    for (const id of ['router-1', 'router-2', 'router-3']) {
      const paths = await writeSimRouter({ root: join(root, 'routers', id), id, master: salt.master.address });
      const r: Router = { id, paths, minion: undefined };
      startMinion(r);
      routers.push(r);
    }
  });
  after(async () => {
    for (const r of routers) await r.minion?.stop();
    await ctl?.close();
    await salt?.close();
    await cleanup?.();
  });

  it('accept --verified accepts the routers whose key fingerprint was reported and refuses a mismatched key', async () => {
    const pre = join(salt.pkiDir, 'minions_pre');
    for (let i = 0; i < 100 && (await readdir(pre).catch(() => [])).length < 3; i++)
      await new Promise((r) => setTimeout(r, 50));
    await writeFile(join(pre, 'intruder'), rsaPair().publicKey);
    const expected: Record<string, string> = {};
    for (const r of routers) expected[r.id] = pemFinger(await readFile(join(r.paths.pkiDir, 'minion.pub'), 'utf8'));
    expected.intruder = pemFinger(rsaPair().publicKey); // what "its agent" reported: not the key that is pending
    await writeFile(join(root, 'expected.json'), JSON.stringify(expected));
    const r = await cli('keys', 'accept', '--verified', '--expected', join(root, 'expected.json'));
    assert.equal(r.code, 7, r.err);
    assert.deepEqual(r.doc.accepted, ['router-1', 'router-2', 'router-3']);
    assert.deepEqual(
      r.doc.mismatch.map((m: { id: string }) => m.id),
      ['intruder'],
    );
    assert.deepEqual(await readdir(pre), ['intruder']);
    for (const x of routers) await salt.master.waitForMinion(x.id);
  });

  it('enable-signing, then routers 1-2 verify with master_sign.pub and router 3 holds a wrong signing key', async () => {
    const r = await cli('keys', 'enable-signing');
    assert.equal(r.code, 0, r.err);
    const signPub = await readFile(join(root, 'srv/salt/ssr_recovery/files/master_sign.pub'), 'utf8');
    assert.equal(r.doc.signPublicKeyFingerprint, pemFinger(signPub));
    // The router-side rollout (done by the ssr_recovery state in production), then restart both sides.
    for (const x of routers) {
      await writeFile(join(x.paths.pkiDir, 'master_sign.pub'), x.id === 'router-3' ? rsaPair().publicKey : signPub);
      await writeFile(join(x.paths.configDir, 'minion.d/signing.conf'), 'verify_master_pubkey_sign: true\n');
    }
    await salt.master.restart();
    for (const x of routers) await restartMinion(x);
    for (const x of routers) await salt.master.waitForMinion(x.id);
    const st = await cli('keys', 'status');
    assert.equal(st.doc.signing.enabled, true);
    assert.equal(st.doc.signing.signatureValid, true);
  });

  it('rotate refuses (KEYS_MINIONS_NOT_READY) while router-3 does not hold our signing key, changing nothing', async () => {
    const before = await masterPub();
    const r = await cli('keys', 'rotate');
    assert.equal(r.code, 4, r.err);
    assert.equal(r.doc.error.code, 'KEYS_MINIONS_NOT_READY');
    assert.deepEqual(r.doc.error.details.notReady, [{ id: 'router-3', reason: 'sign-key-differs' }]);
    assert.equal(await masterPub(), before);
  });

  let oldPub: string;
  it('rotate --force: routers 1-2 follow the new key by themselves, router-3 is reported missing (exit 5)', async () => {
    oldPub = await masterPub();
    const r = await cli('keys', 'rotate', '--force', '--wait', '8');
    assert.equal(r.code, 5, r.err);
    const newPub = await masterPub();
    assert.notEqual(newPub, oldPub);
    assert.equal(r.doc.newFingerprint, pemFinger(newPub));
    assert.deepEqual(r.doc.answered, ['router-1', 'router-2']);
    assert.deepEqual(r.doc.missing, ['router-3']);
    for (const x of routers.slice(0, 2)) assert.equal(cleanKey(await cached(x)), cleanKey(newPub));
    assert.equal(cleanKey(await cached(routers[2]!)), cleanKey(oldPub), 'router-3 refused the new key');
  });

  it('rotate --rollback restores the old pair; every router answers again', async () => {
    const r = await cli('keys', 'rotate', '--rollback');
    assert.equal(r.code, 0, r.err);
    assert.equal(await masterPub(), oldPub);
    assert.deepEqual(r.doc.missing, []);
    for (const x of routers) assert.equal(cleanKey(await cached(x)), cleanKey(oldPub));
  });
});
