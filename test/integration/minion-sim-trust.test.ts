// The minion simulator's trust behaviour against the master simulator (reference/salt.md §4, §5,
// §10): first-contact caching, "master key has changed" retry loop, master_finger pinning (exit 42
// after caching the refused key), rejection (exit 77), signed master keys — with real key files
// and Salt's log lines.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { rm, writeFile, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanKey, pemFinger } from '../../shared/salt/fingerprint.js';
import { SaltMasterSim } from '../../sandbox/salt/master.js';
import { genSignatureFile } from '../../sandbox/salt/master-crypto.js';
import { genRsaPair } from '../../sandbox/salt/master-pki.js';
import {
  exitOf,
  runMinionInProcess,
  spawnMinion,
  writeSimRouter,
  type SimRouterPaths,
} from '../../sandbox/salt/minion-setup.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

/** Salt's log file line prefix: `%(asctime)s,%(msecs)03d [%(name)-17s:%(lineno)-4d][%(levelname)-8s][%(process)d] `. */
const LINE = (level: string, logger: string): RegExp =>
  new RegExp(
    `^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d,\\d{3} \\[${logger.replace('.', '\\.')}${' '.repeat(17 - logger.length)}:\\d{1,4} {0,3}\\]\\[${level}${' '.repeat(8 - level.length)}\\]\\[\\d+\\] `,
    'm',
  );

async function until(pred: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

const log = (p: SimRouterPaths): string => (existsSync(p.logFile) ? readFileSync(p.logFile, 'utf8') : '');
const cached = (p: SimRouterPaths): string => readFileSync(join(p.pkiDir, 'minion_master.pub'), 'utf8');

describe('integration: minion simulator trust behaviour', function () {
  this.timeout(60_000);
  let root: string;
  let cleanup: () => Promise<void>;
  let n = 0;
  const stops: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    n = 0;
    ({ dir: root, cleanup } = await makeTmpDir());
  });
  afterEach(async () => {
    for (const s of stops.splice(0).reverse()) await s();
    await cleanup();
  });

  async function master(overrides: Record<string, unknown> = {}): Promise<SaltMasterSim> {
    const m = new SaltMasterSim({
      pkiDir: join(root, 'master/pki'),
      overrides: { auto_accept: true, timeout: 1, ...overrides },
    });
    await m.start();
    stops.push(() => m.stop());
    return m;
  }
  async function router(
    m: SaltMasterSim,
    config: Record<string, unknown> = {},
    id = `router-${++n}`,
  ): Promise<SimRouterPaths> {
    return writeSimRouter({ root: join(root, id), id, master: m.address, config });
  }
  function inProcess(p: SimRouterPaths): { stop(): Promise<number>; exit: Promise<number> } {
    const r = runMinionInProcess(p);
    stops.push(() => r.stop());
    return r;
  }
  const ping = async (m: SaltMasterSim, id: string): Promise<unknown> =>
    (await m.publish({ tgt: id, fun: 'test.ping', timeout: 5 })).returns.get(id);

  it('caches the master key on first contact exactly as Salt writes it, and logs nothing when healthy', async () => {
    const m = await master();
    const p = await router(m);
    inProcess(p);
    await m.waitForMinion('router-1');
    const masterPub = readFileSync(join(m.pki.dir, 'master.pub'), 'utf8');
    assert.equal(cached(p), cleanKey(masterPub));
    assert.ok(!cached(p).endsWith('\n'), 'no trailing newline');
    assert.equal(statSync(p.pkiDir).mode & 0o777, 0o700);
    assert.equal(statSync(join(p.pkiDir, 'minion.pem')).mode & 0o777, 0o400);
    assert.equal(
      readFileSync(join(m.pki.dir, 'minions/router-1'), 'utf8'),
      readFileSync(join(p.pkiDir, 'minion.pub'), 'utf8'),
    );
    assert.equal(await ping(m, 'router-1'), true);
    assert.equal(log(p), '');
  });

  it('master key replaced: logs the key-changed lines, keeps retrying, and re-reads minion_master.pub (deleting it trusts the next master)', async () => {
    const m = await master();
    const p = await router(m);
    const child = spawnMinion(p);
    stops.push(async () => {
      child.kill('SIGTERM');
      await exitOf(child);
    });
    await m.waitForMinion('router-1');
    const oldKey = cached(p);
    await m.pki.writeKeyPair('master', genRsaPair());
    await m.restart();
    await until(() => (log(p).match(/The master key has changed/g) ?? []).length >= 2);
    const text = log(p);
    assert.match(text, LINE('ERROR', 'salt.crypt'));
    assert.match(text, LINE('CRITICAL', 'salt.crypt'));
    assert.match(text, LINE('ERROR', 'salt.minion'));
    assert.match(text, /\[salt\.crypt {7}:1316\]\[ERROR {3}\]/);
    assert.match(
      text,
      /\[ERROR {3}\]\[\d+\] The master key has changed, the salt master could have been subverted, verify salt master's public key\n/,
    );
    assert.match(
      text,
      /\[CRITICAL\]\[\d+\] The Salt Master server's public key did not authenticate!\nThe master may need to be updated if it is a version of Salt lower than 3007\.0, or\nIf you are confident that you are connecting to a valid Salt Master, then remove the master public key and restart the Salt Minion\.\nThe master public key can be found at:\n.*minion_master\.pub\n/,
    );
    assert.equal(child.exitCode, null, 'the minion does not exit');
    assert.equal(cached(p), oldKey, 'minion_master.pub is not changed');
    assert.equal(await ping(m, 'router-1'), false);
    await rm(join(p.pkiDir, 'minion_master.pub'));
    await m.waitForMinion('router-1');
    assert.equal(
      cached(p),
      cleanKey(readFileSync(join(m.pki.dir, 'master.pub'), 'utf8')),
      'trusted whatever master answered',
    );
  });

  it('putting the original master keys back reconnects an untouched minion by itself', async () => {
    const m = await master();
    const p = await router(m);
    inProcess(p);
    await m.waitForMinion('router-1');
    const pem = readFileSync(join(m.pki.dir, 'master.pem'), 'utf8');
    const pub = readFileSync(join(m.pki.dir, 'master.pub'), 'utf8');
    await m.pki.writeKeyPair('master', genRsaPair());
    await m.restart();
    await until(() => log(p).includes('The master key has changed'));
    await m.pki.writeKeyPair('master', { priv: pem, pub });
    await m.restart();
    await m.waitForMinion('router-1');
    assert.equal(await ping(m, 'router-1'), true);
  });

  it('master_finger mismatch: CRITICAL lines, exit 42, and the refused key is already in minion_master.pub', async () => {
    const m = await master();
    const wrong = pemFinger(genRsaPair().pub);
    const p = await router(m, { master_finger: wrong });
    const child = spawnMinion(p);
    assert.equal(await exitOf(child), 42);
    const actual = pemFinger(readFileSync(join(m.pki.dir, 'master.pub'), 'utf8'));
    assert.match(
      log(p),
      new RegExp(
        `\\[CRITICAL\\]\\[\\d+\\] The specified fingerprint in the master configuration file:\\n${wrong}\\nDoes not match the authenticating master's key:\\n${actual}\\nVerify that the configured fingerprint matches`,
      ),
    );
    assert.equal(
      cached(p),
      cleanKey(readFileSync(join(m.pki.dir, 'master.pub'), 'utf8')),
      'the refused key was cached before exiting',
    );
    assert.equal(readFileSync(join(p.stateDir, 'last-exit'), 'utf8').trim(), '42');
  });

  it('master_finger matching the master key: connects', async () => {
    const m = await master();
    const p = await router(m, { master_finger: await m.pki.finger('master.pub') });
    inProcess(p);
    await m.waitForMinion('router-1');
    assert.equal(await ping(m, 'router-1'), true);
  });

  it('a rejected minion key: CRITICAL and exit 77; with rejected_retry it keeps trying', async () => {
    const m = await master({ auto_accept: false });
    const p = await router(m);
    const first = inProcess(p);
    await until(() => existsSync(join(m.pki.dir, 'minions_pre/router-1')));
    await first.stop();
    await m.wheel('key.reject', { match: 'router-1' });
    const child = spawnMinion(p);
    assert.equal(await exitOf(child), 77);
    assert.match(log(p), /\[CRITICAL\]\[\d+\] The Salt Master has rejected this minion's public key!/);
    const auth = m.bus.history.filter((e) => e.tag === 'salt/auth' && e.data.id === 'router-1').pop()!;
    assert.deepEqual(Object.keys(auth.data), ['result', 'id', 'pub', '_stamp'], '3006: no act for a rejected key');
    await writeFile(join(p.configDir, 'minion.d/retry.conf'), 'rejected_retry: True\n');
    const retrying = inProcess(p);
    await until(() => (log(p).match(/will attempt to re-authenicate/g) ?? []).length >= 2);
    await m.wheel('key.delete', { match: 'router-1' });
    await m.wheel('key.accept', { match: 'router-1' }).catch(() => undefined);
    await until(() => existsSync(join(m.pki.dir, 'minions_pre/router-1')));
    await m.wheel('key.accept', { match: 'router-1' });
    await m.waitForMinion('router-1');
    await retrying.stop();
  });

  it('a pending key: the "cached the public key" line, then connects once accepted', async () => {
    const m = await master({ auto_accept: false });
    const p = await router(m);
    inProcess(p);
    await until(() => log(p).includes('The Salt Master has cached the public key for this node'));
    await m.wheel('key.accept', { match: 'router-1' });
    await m.waitForMinion('router-1');
  });

  describe('signed master keys (reference §5)', () => {
    async function signedSetup(
      minionConfig: Record<string, unknown> = { verify_master_pubkey_sign: true },
      copySign = true,
    ) {
      const m = await master({ master_sign_pubkey: true });
      const p = await router(m, minionConfig);
      if (copySign) {
        await writeSimRouter({ root: join(root, 'router-1'), id: 'router-1', master: m.address, config: minionConfig });
        const { mkdir } = await import('node:fs/promises');
        await mkdir(p.pkiDir, { recursive: true, mode: 0o700 });
        await copyFile(join(m.pki.dir, 'master_sign.pub'), join(p.pkiDir, 'master_sign.pub'));
      }
      return { m, p };
    }

    it('accepts a new master key signed with master_sign.pem and rewrites minion_master.pub, with no manual step', async () => {
      const { m, p } = await signedSetup();
      inProcess(p);
      await m.waitForMinion('router-1');
      await m.pki.writeKeyPair('master', genRsaPair());
      await m.restart();
      await until(() => cached(p) === cleanKey(readFileSync(join(m.pki.dir, 'master.pub'), 'utf8')));
      await m.waitForMinion('router-1');
      assert.equal(await ping(m, 'router-1'), true);
      assert.ok(!log(p).includes('The master key has changed'));
    });

    it('refuses when master_sign.pub is missing on the minion', async () => {
      const { m, p } = await signedSetup({ verify_master_pubkey_sign: true }, false);
      inProcess(p);
      await until(() => /Verification public key .*master_sign\.pub does not exist/.test(log(p)));
      assert.ok(!existsSync(join(p.pkiDir, 'minion_master.pub')), 'no trust on first use when verifying');
      assert.equal(m.connected().length, 0);
    });

    it('a master that signs while the minion does not verify fails auth (check_auth_deps)', async () => {
      const { p } = await signedSetup({}, false);
      inProcess(p);
      await until(() =>
        log(p).includes(
          'The masters sent its public-key signature, but signature verification is not enabled on the minion',
        ),
      );
    });

    it('a precomputed signature made like salt-key --gen-signature (raw file, trailing newline) fails verification (Salt bug #68930)', async () => {
      const pre = await master();
      await pre.stop();
      await pre.pki.writeKeyPair('master_sign');
      const sig = genSignatureFile(
        readFileSync(join(pre.pki.dir, 'master_sign.pem'), 'utf8'),
        readFileSync(join(pre.pki.dir, 'master.pub'), 'utf8'),
      );
      await writeFile(join(pre.pki.dir, 'master_pubkey_signature'), sig);
      const m = new SaltMasterSim({
        pkiDir: pre.pki.dir,
        overrides: { auto_accept: true, master_sign_pubkey: true, master_use_pubkey_signature: true },
      });
      await m.start();
      stops.push(() => m.stop());
      const p = await router(m, { verify_master_pubkey_sign: true });
      const { mkdir } = await import('node:fs/promises');
      await mkdir(p.pkiDir, { recursive: true, mode: 0o700 });
      await copyFile(join(m.pki.dir, 'master_sign.pub'), join(p.pkiDir, 'master_sign.pub'));
      inProcess(p);
      await until(() => log(p).includes('but signature verification failed!'));
    });

    it('the master refuses to start when the precomputed signature file is missing', async () => {
      const m = new SaltMasterSim({
        pkiDir: join(root, 'm2'),
        overrides: { master_sign_pubkey: true, master_use_pubkey_signature: true },
      });
      await assert.rejects(m.start(), /no signature file found/);
    });
  });
});
