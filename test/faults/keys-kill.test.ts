/**
 * kill -9 at every step of `keys enable-signing`, `keys rotate` and `keys rotate --rollback`: the real
 * CLI (dist/) is forked with SSR_RECOVERY_KEYS_FAULT naming the step after which it kills itself
 * (shared/fault.ts), against the Salt master simulator, salt-api emulator and three simulated
 * minions. Then a re-run or `--rollback` must leave the old key pair back whole (or the new one whole),
 * no temp file, the record consistent, and every router answering the master on the pair in place.
 */
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readMasterConfig } from '../../conductor-agent/keys/master-config.js';
import { masterKeyPaths, readMasterKeyFiles, readOptional } from '../../conductor-agent/keys/pki.js';
import { isKeyPair } from '../../conductor-agent/keys/rsa.js';
import { listRotations, readKeptPair } from '../../conductor-agent/keys/rotation-store.js';
import { verifyMasterPubSignature } from '../../conductor-agent/keys/signature.js';
import { cleanKey } from '../../shared/salt/fingerprint.js';
import { writeKeysConfig } from '../helpers/salt-api-config.js';
import { startMasterControl, type MasterControl } from '../../sandbox/salt/master-control.js';
import { runMinionInProcess, writeSimRouter, type SimRouterPaths } from '../../sandbox/salt/minion-setup.js';
import { startSaltSandbox, type SaltSandbox } from '../../sandbox/saltapi-emulator/sandbox.js';
import { until } from '../helpers/agents.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { docOf, forkCli, leftoverTemps } from './fork-cli.js';

interface Router {
  id: string;
  paths: SimRouterPaths;
  minion: { stop(): Promise<number> } | undefined;
}

const SIGNING_STEPS = ['signing/sign-pem', 'signing/sign-pub', 'signing/signature', 'signing/config'];
const ROTATE_STEPS = [
  'rotate/kept',
  'rotate/master-pem',
  'rotate/master-pub',
  'rotate/signature',
  'rotate/applied',
  'rotate/restarted',
];

describe('keys enable-signing / rotate / rollback killed with SIGKILL at every step', function () {
  this.timeout(180_000);
  let root: string;
  let cleanup: () => Promise<void>;
  let salt: SaltSandbox;
  let ctl: MasterControl;
  let originalConfig: string;
  const routers: Router[] = [];
  const rotationsDir = (): string => join(root, 'var/lib/ssr-recovery/keys/rotations');
  const exported = (): string => join(root, 'srv/salt/ssr_recovery/files/master_sign.pub');
  const keys = (...args: string[]) => forkCli(['--root', root, '--json', 'keys', ...args]);
  const killedAt = (step: string, ...args: string[]) =>
    forkCli(['--root', root, '--json', 'keys', ...args], { SSR_RECOVERY_KEYS_FAULT: step });
  const files = async () => {
    const st = (await readMasterConfig(salt.masterConfigFile)).settings;
    const paths = masterKeyPaths(salt.pkiDir, st.signKeyName, st.pubkeySignatureFile);
    return { settings: st, paths, ...(await readMasterKeyFiles(paths)) };
  };
  const cachedBy = (r: Router) => readFile(join(r.paths.pkiDir, 'minion_master.pub'), 'utf8');
  const noTemps = async () => {
    assert.deepEqual(await leftoverTemps(salt.pkiDir), [], 'no temp file in the pki folder');
    assert.deepEqual(await leftoverTemps(rotationsDir()), [], 'no temp file among the kept pairs');
  };
  /** Rotation ids are per second: start each rotation in a second of its own. */
  const nextSecond = async () => {
    const s = Math.floor(Date.now() / 1000);
    await until(() => Math.floor(Date.now() / 1000) > s, 3000, 'the next second');
  };
  /** Every router caches `pub` and answers the master (rollback/rotate report nobody missing). */
  const routersFollow = async (pub: string) => {
    for (const r of routers) {
      await until(async () => cleanKey(await cachedBy(r)) === cleanKey(pub), 30_000, `${r.id} caches the key`);
    }
  };

  before(async () => {
    ({ dir: root, cleanup } = await makeTmpDir('ssr-keys-kill-'));
    salt = await startSaltSandbox({ root, host: '127.24.1.1', masterConfig: { auto_accept: true } });
    ctl = await startMasterControl(salt.master, '127.24.1.1');
    await writeKeysConfig(root, salt, ctl);
    originalConfig = await readFile(salt.masterConfigFile, 'utf8');
    for (const id of ['router-1', 'router-2', 'router-3']) {
      const paths = await writeSimRouter({ root: join(root, 'routers', id), id, master: salt.master.address });
      routers.push({ id, paths, minion: runMinionInProcess(paths) });
    }
    for (const r of routers) await salt.master.waitForMinion(r.id);
  });
  after(async () => {
    for (const r of routers) await r.minion?.stop();
    await ctl?.close();
    await salt?.close();
    await cleanup?.();
  });

  for (const step of SIGNING_STEPS) {
    it(`enable-signing killed after ${step}: a re-run completes it with the signing key it already wrote`, async () => {
      const f0 = await files();
      for (const p of [f0.paths.signPem, f0.paths.signPub, f0.paths.signature, exported()])
        await rm(p, { force: true });
      await writeFile(salt.masterConfigFile, originalConfig);
      const killed = await killedAt(step, 'enable-signing');
      assert.equal(killed.signal, 'SIGKILL', `not killed: exit ${killed.code} ${killed.err.slice(-800)}`);
      const mid = await files();
      assert.equal(mid.masterPem, f0.masterPem, 'the master pair is never touched');
      assert.equal(mid.masterPub, f0.masterPub);
      await noTemps();
      const rerun = await keys('enable-signing');
      assert.equal(rerun.code, 0, rerun.err.slice(-1500));
      const f = await files();
      if (mid.signPem !== undefined)
        assert.equal(f.signPem, mid.signPem, 'the signing key written before the kill is kept');
      assert.ok(isKeyPair(f.signPem!, f.signPub!), 'master_sign.pem/.pub are one pair');
      assert.ok(verifyMasterPubSignature(f.signPub!, f.masterPub!, f.signature!), 'the signature verifies master.pub');
      assert.equal(f.settings.signPubkey, true);
      assert.equal(await readOptional(exported()), f.signPub, 'the exported key is the signing key');
      assert.deepEqual(
        docOf<{ changes: unknown[] }>(await keys('enable-signing')).changes,
        [],
        'a third run changes nothing',
      );
      await noTemps();
    });
  }

  describe('with signing rolled out to every router', () => {
    before(async () => {
      const f = await files();
      for (const r of routers) {
        await writeFile(join(r.paths.pkiDir, 'master_sign.pub'), f.signPub!);
        await writeFile(join(r.paths.configDir, 'minion.d/signing.conf'), 'verify_master_pubkey_sign: true\n');
      }
      await salt.master.restart();
      for (const r of routers) {
        await r.minion?.stop();
        r.minion = runMinionInProcess(r.paths);
      }
      for (const r of routers) await salt.master.waitForMinion(r.id);
    });

    for (const step of ROTATE_STEPS) {
      it(`rotate killed after ${step}: old pair kept; --rollback restores it, all routers answer`, async () => {
        const old = await files();
        await nextSecond();
        const killed = await killedAt(step, 'rotate', '--wait', '20');
        assert.equal(killed.signal, 'SIGKILL', `not killed: exit ${killed.code} ${killed.err.slice(-800)}`);
        const record = (await listRotations(rotationsDir()))[0]!;
        assert.ok(record.state === 'prepared' || record.state === 'applied', record.state);
        const kept = await readKeptPair(rotationsDir(), record.id);
        assert.equal(kept.masterPem, old.masterPem, 'the old private key is recoverable');
        assert.equal(kept.masterPub, old.masterPub);
        const mid = await files();
        if (step === 'rotate/master-pem') {
          // Half a pair on disk: a re-run refuses (after taking over the dead run's lock) and changes nothing.
          assert.ok(!isKeyPair(mid.masterPem!, mid.masterPub!));
          const again = await keys('rotate', '--wait', '20');
          assert.equal(again.code, 7, again.err.slice(-1500));
          const e = docOf<{ error: { code: string; hint: string } }>(again).error;
          assert.equal(e.code, 'KEYS_PAIR_MISMATCH');
          assert.match(e.hint, /keys rotate --rollback/, 'the refusal names the way back');
          assert.deepEqual(await files(), mid);
        }
        if (step === 'rotate/restarted' || step === 'rotate/applied') {
          assert.ok(isKeyPair(mid.masterPem!, mid.masterPub!), 'the new pair is whole');
          assert.ok(verifyMasterPubSignature(mid.signPub!, mid.masterPub!, mid.signature!));
        }
        const rb = await keys('rotate', '--rollback', '--wait', '20');
        assert.equal(rb.code, 0, rb.err.slice(-1500));
        assert.deepEqual(docOf<{ missing: string[] }>(rb).missing, [], 'every router answers the restored key');
        const f = await files();
        assert.equal(f.masterPem, old.masterPem);
        assert.equal(f.masterPub, old.masterPub);
        assert.ok(verifyMasterPubSignature(f.signPub!, f.masterPub!, f.signature!));
        assert.equal((await listRotations(rotationsDir()))[0]!.state, 'rolled-back');
        await routersFollow(old.masterPub!);
        await noTemps();
      });
    }

    it('rotate killed after rotate/applied (not yet restarted): a re-run rotates to a whole new pair', async () => {
      await nextSecond();
      const killed = await killedAt('rotate/applied', 'rotate', '--wait', '20');
      assert.equal(killed.signal, 'SIGKILL');
      await nextSecond();
      const again = await keys('rotate', '--wait', '20');
      assert.equal(again.code, 0, again.err.slice(-1500));
      assert.deepEqual(docOf<{ missing: string[] }>(again).missing, []);
      const f = await files();
      assert.ok(isKeyPair(f.masterPem!, f.masterPub!));
      assert.ok(verifyMasterPubSignature(f.signPub!, f.masterPub!, f.signature!));
      assert.equal(
        docOf<{ newFingerprint: string }>(again).newFingerprint,
        (await listRotations(rotationsDir()))[0]!.newFingerprint,
      );
      await routersFollow(f.masterPub!);
      await noTemps();
    });

    it('salt-api faults under a command: keys rotate through a 503 storm and a 401 mid-run', async () => {
      await nextSecond();
      const storm = salt.api.injectFault({
        status: 503,
        message: 'Salt Master is not available.',
        count: 3,
        path: /^\/$/,
      });
      const expiry = salt.api.injectFault({ status: 401, count: 1, path: /^\/$/, after: 1 });
      const r = await keys('rotate', '--wait', '20');
      assert.equal(r.code, 0, r.err.slice(-1500));
      assert.deepEqual(docOf<{ missing: string[] }>(r).missing, [], 'every router answers through salt-api');
      assert.equal(storm.count, 0, 'the 503 storm was served');
      assert.equal(expiry.count, 0, 'the 401 came mid-run and the CLI logged in again');
      const f = await files();
      assert.ok(isKeyPair(f.masterPem!, f.masterPub!));
      await routersFollow(f.masterPub!);
      await noTemps();
    });

    it('rollback killed after rollback/restored: a re-run of --rollback finishes it', async () => {
      const before = await files();
      await nextSecond();
      const rotated = await keys('rotate', '--wait', '20');
      assert.equal(rotated.code, 0, rotated.err.slice(-1500));
      const killed = await killedAt('rollback/restored', 'rotate', '--rollback', '--wait', '20');
      assert.equal(killed.signal, 'SIGKILL');
      const rb = await keys('rotate', '--rollback', '--wait', '20');
      assert.equal(rb.code, 0, rb.err.slice(-1500));
      assert.deepEqual(docOf<{ missing: string[] }>(rb).missing, []);
      const f = await files();
      assert.equal(f.masterPem, before.masterPem);
      assert.equal(f.masterPub, before.masterPub);
      await routersFollow(before.masterPub!);
      await noTemps();
    });
  });
});
