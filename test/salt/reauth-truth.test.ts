// Issue 9 F1, F2, F4, F5, F6 on real Salt 3006.18, through the built router-agent CLI: what the
// router reports must be what the real minion did. One rig, two minions:
// - router-2: an operator's wrong pin makes the real minion exit 42; `status` says finger-mismatch
//   with Salt's lines (F2); after the operator fixes the pin and starts it, the old line no
//   longer counts (F4).
// - router-1: `services.minion.stop` only sends SIGTERM and returns (a real minion takes ~6 s to
//   exit): reauth must wait before touching its files (F5). Then a master with another key answers
//   while router-1 is pinned to (and caches) the right key: the real minion keeps retrying instead
//   of exiting 42; reauth reports failure with the lines, `status` says finger-mismatch (F1, F6).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { pemFingerFile } from '../../shared/salt/fingerprint.js';
import { startRig, type Rig } from './rig.js';
import { cli, routerBin, saltKeyMasterFinger, until } from './support.js';

const PKI = 'etc/128technology/salt/pki/master';
const PIN_DROP_IN = 'etc/salt/minion.d/ssr-recovery-master-finger.conf';

interface Trust {
  state: string;
  evidence: string[];
  minionActive: boolean;
  minionExit?: number;
  cachedFingerprint?: string;
}

describe('real Salt: re-authentication tells the truth (issue 9 F1, F2, F4, F5, F6)', () => {
  let rig: Rig;

  /** A router-agent config beside the real minion (no conductor channel: the CLI alone). */
  function routerConfig(id: string, services: Record<string, string>): void {
    const dir = join(rig.minionRoot(id), 'etc/ssr-recovery');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(
      join(dir, 'router-agent.yaml'),
      stringify({
        minion: { id },
        agent: { saltCall: rig.saltCallCommand(id), reauthTimeoutMs: 90_000, settleMs: 3_000, pollMs: 500 },
        services: { minion: services },
        log: { level: 'info' },
      }),
    );
  }
  const status = async (id: string): Promise<Trust> => {
    const r = await cli(routerBin, ['status', '--json', '--root', rig.minionRoot(id)], rig.env);
    assert.equal(r.code, 0, `${r.out}\n${r.err.slice(-2000)}`);
    return (r.json as { trust: Trust }).trust;
  };
  const pin = (id: string, finger: string): void => {
    writeFileSync(join(rig.minionRoot(id), PIN_DROP_IN), `master_finger: '${finger}'\n`);
  };
  const cachedKey = (id: string): string => join(rig.minionRoot(id), 'etc/salt/pki/minion/minion_master.pub');

  /** The conductor loses its master key pair: real Salt makes a new one at the next start. */
  async function loseMasterKey(): Promise<string> {
    await rig.stopMaster();
    await rm(join(rig.root, PKI, 'master.pem'), { force: true });
    await rm(join(rig.root, PKI, 'master.pub'), { force: true });
    await rig.startMaster();
    return saltKeyMasterFinger(rig);
  }

  before(async () => {
    rig = await startRig({ minions: ['router-1', 'router-2'] });
    routerConfig('router-2', { ...rig.minionServiceCommands('router-2') });
    // stop = SIGTERM only, returning at once (as `kill` or `systemctl stop --no-block` would).
    const pidFile = join(rig.minionRoot('router-1'), 'var/run/salt-minion.pid');
    const kill = `process.kill(Number(require('fs').readFileSync(${JSON.stringify(pidFile)}, 'utf8')), 'SIGTERM')`;
    const stop = `${JSON.stringify(process.execPath)} -e ${JSON.stringify(kill)}`;
    routerConfig('router-1', { ...rig.minionServiceCommands('router-1'), stop });
  });
  after(async () => {
    await rig?.stop();
  });

  it(
    "wrong pin, real minion exits 42: status says finger-mismatch with Salt's lines (F2), " +
      'and after the operator fixes the pin it says trusted (F4)',
    async () => {
      const right = await saltKeyMasterFinger(rig);
      await rig.stopMinion('router-2');
      await rm(cachedKey('router-2'), { force: true });
      pin('router-2', right.replace(/^../, right.startsWith('00') ? '11' : '00')); // an operator's typo
      await rig.startMinion('router-2').catch(() => undefined); // it may exit 42 before its pid file is seen
      await until('the real minion to exit after the mismatch', () => rig.minionPid('router-2') === undefined, 60_000);
      const down = await status('router-2');
      assert.equal(down.state, 'finger-mismatch', JSON.stringify(down));
      assert.equal(down.minionExit, 42);
      const mismatch = (l: string) => l.includes('The specified fingerprint in the master configuration file:');
      assert.ok(down.evidence.some(mismatch), down.evidence.join('\n'));
      // The operator fixes the pin and starts the minion; the refused key Salt cached is the right one here.
      pin('router-2', right);
      await rig.startMinion('router-2');
      await rig.waitPing(['router-2'], 90_000);
      const fixed = await status('router-2');
      assert.equal(fixed.state, 'trusted', `old mismatch line counted after the new start: ${JSON.stringify(fixed)}`);
      assert.deepEqual(fixed.evidence, []);
    },
  );

  it('stop returns before the real minion exits: reauth waits for it, then re-authenticates (F5)', async () => {
    const fresh = await loseMasterKey();
    assert.deepEqual(await rig.ping(['router-1'], 5), [], 'the stale minion no longer answers');
    const args = ['reauth', '--fingerprint', fresh, '--json', '--root', rig.minionRoot('router-1')];
    const r = await cli(routerBin, args, rig.env);
    assert.equal(r.code, 0, `${r.out}\n${r.err.slice(-3000)}`);
    assert.equal(r.json!.ok, true);
    const confirmedBy = r.json!.confirmedBy as string[] | undefined;
    assert.ok(
      confirmedBy?.some((l) => l.trim() === 'True'),
      `positive evidence: ${r.out}`,
    );
    await rig.waitPing(['router-1'], 90_000);
    assert.equal(await pemFingerFile(cachedKey('router-1')), fresh);
    assert.notEqual(rig.minionPid('router-1'), undefined);
  });

  it(
    'another master key answering while pinned to the cached right one: failure with "did not authenticate", ' +
      'minion keeps retrying (F1, F6)',
    async () => {
      const right = await pemFingerFile(cachedKey('router-1'));
      await loseMasterKey(); // from router-1's view: a master with another key on the expected address
      const args = [
        'reauth',
        '--fingerprint',
        right,
        '--json',
        '--root',
        rig.minionRoot('router-1'),
        '--timeout',
        '60000',
      ];
      const r = await cli(routerBin, args, rig.env);
      assert.notEqual(r.code, 0, `reauth claimed success against a master without the pinned key:\n${r.out}`);
      assert.equal(r.json!.ok, false);
      assert.equal(r.json!.code, 'REAUTH_FAILED');
      const evidence = r.json!.evidence as string[];
      assert.ok(
        evidence.some((l) => l.includes('did not authenticate')),
        evidence.join('\n'),
      );
      assert.deepEqual(await rig.ping(['router-1'], 5), []);
      assert.notEqual(rig.minionPid('router-1'), undefined, 'Salt keeps retrying here instead of exiting 42');
      assert.equal(await pemFingerFile(cachedKey('router-1')), right, 'the right key stays cached');
      const t = await status('router-1');
      assert.equal(t.state, 'finger-mismatch', JSON.stringify(t));
      assert.ok(t.evidence.some((l) => l.includes('The master key has changed')));
    },
  );
});
