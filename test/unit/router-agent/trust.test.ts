import assert from 'node:assert/strict';
import { appendFile, writeFile, rename, rm, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { nullLogger } from '../../../shared/log/logger.js';
import { systemClock } from '../../../shared/ports/clock.js';
import { pemFinger } from '../../../shared/salt/fingerprint.js';
import { classifyLine, exitStatusFor, lineTime } from '../../../router-agent/trust/classify.js';
import { computeTrustState } from '../../../router-agent/trust/state.js';
import { LogTail } from '../../../router-agent/trust/log-tail.js';
import { TrustWatcher } from '../../../router-agent/trust/watch.js';
import {
  minionConfigPaths,
  topLevelScalars,
  effectiveValue,
  PIN_DROP_IN,
} from '../../../router-agent/minion/config-files.js';
import { makeTmpDir } from '../../helpers/tmpdir.js';
import { FakeMinion, makeRouterTree, rsaPublicPem } from './fake-minion.js';

// Lines exactly as reference/salt.md §10 shows them on 3006.18.
const L = {
  changed:
    "2026-11-24 11:02:22,257 [salt.crypt        :1316][ERROR   ][5717] The master key has changed, the salt master could have been subverted, verify salt master's public key",
  notAuth:
    "2026-11-24 11:02:22,258 [salt.crypt        :1330][CRITICAL][5717] The Salt Master server's public key did not authenticate!",
  finger:
    '2026-11-24 11:02:22,259 [salt.crypt        :1290][CRITICAL][5717] The specified fingerprint in the master configuration file:',
  rejected:
    "2026-11-24 11:02:22,260 [salt.crypt        :1200][CRITICAL][5717] The Salt Master has rejected this minion's public key!",
  other: '2026-11-24 11:02:22,261 [salt.minion       :1000][WARNING ][5717] something else',
};

describe('router-agent/trust', () => {
  it('classifies the exact minion log lines of reference §10 and their exit statuses', () => {
    assert.equal(classifyLine(L.changed)?.kind, 'key-changed');
    assert.equal(classifyLine(L.notAuth)?.kind, 'not-authenticated');
    assert.equal(classifyLine('salt.exceptions.SaltClientError: Invalid master key')?.kind, 'not-authenticated');
    assert.equal(classifyLine(L.finger)?.kind, 'finger-mismatch');
    assert.equal(classifyLine(L.rejected)?.kind, 'rejected');
    assert.equal(classifyLine(L.other), undefined);
    assert.equal(exitStatusFor('finger-mismatch'), 42);
    assert.equal(exitStatusFor('rejected'), 77);
    assert.equal(lineTime(L.changed), new Date(2026, 10, 24, 11, 2, 22, 257).getTime());
    assert.equal(lineTime('The master public key can be found at:'), undefined);
  });

  it('orders the states: down, logged mismatch, stale key, no key, pin mismatch, expected, trusted', () => {
    assert.equal(computeTrustState({ minionActive: false }), 'minion-down');
    assert.equal(computeTrustState({ minionActive: false, lastEvent: 'finger-mismatch' }), 'finger-mismatch');
    assert.equal(
      computeTrustState({ minionActive: true, cachedFingerprint: 'a', lastEvent: 'key-changed' }),
      'stale-master-key',
    );
    assert.equal(computeTrustState({ minionActive: true }), 'no-master-key');
    assert.equal(
      computeTrustState({ minionActive: true, cachedFingerprint: 'a', pinnedFingerprint: 'b' }),
      'finger-mismatch',
    );
    assert.equal(
      computeTrustState({ minionActive: true, cachedFingerprint: 'a', expectedFingerprint: 'b' }),
      'stale-master-key',
    );
    assert.equal(
      computeTrustState({
        minionActive: true,
        cachedFingerprint: 'a',
        pinnedFingerprint: 'a',
        expectedFingerprint: 'a',
      }),
      'trusted',
    );
  });

  it('reads master_finger the way Salt layers minion and minion.d/*.conf (later wins)', async () => {
    const { dir, cleanup } = await makeTmpDir();
    try {
      const tree = await makeRouterTree(dir, undefined);
      const paths = minionConfigPaths(tree.configDir);
      assert.deepEqual(
        [...topLevelScalars('a: 1\n  b: 2\nc: \'x\' # note\nd: "y"\n')],
        [
          ['a', '1'],
          ['c', 'x'],
          ['d', 'y'],
        ],
      );
      await appendFile(paths.mainFile, "master_finger: 'aa'\n");
      assert.equal((await effectiveValue(paths, 'master_finger'))?.value, 'aa');
      await writeFile(join(tree.configDir, 'minion.d', PIN_DROP_IN), "master_finger: 'bb'\n");
      assert.equal((await effectiveValue(paths, 'master_finger'))?.value, 'bb');
      await writeFile(join(tree.configDir, 'minion.d', 'zz.conf'), "master_finger: 'cc'\n");
      assert.deepEqual(await effectiveValue(paths, 'master_finger'), {
        value: 'cc',
        file: join(tree.configDir, 'minion.d', 'zz.conf'),
      });
      assert.equal((await effectiveValue(paths, 'master_finger', null))?.value, 'cc');
    } finally {
      await cleanup();
    }
  });

  it('follows the log across truncation and replacement (rotation), keeping partial lines', async () => {
    const { dir, cleanup } = await makeTmpDir();
    try {
      const f = join(dir, 'minion.log');
      await writeFile(f, 'old line\n');
      const t = new LogTail({ path: f });
      await t.start();
      await appendFile(f, 'one\ntw');
      assert.deepEqual(await t.poll(), ['one']);
      await appendFile(f, 'o\n');
      assert.deepEqual(await t.poll(), ['two']);
      await writeFile(f.replace('minion.log', 'new.log'), 'after rotation\n');
      await rename(f.replace('minion.log', 'new.log'), f);
      assert.deepEqual(await t.poll(), ['after rotation']);
      await writeFile(f, 'x\n');
      assert.deepEqual(await t.poll(), ['x']);
    } finally {
      await cleanup();
    }
  });

  it('watcher: stale from the log, forgets old errors once the key changes, emits change events', async () => {
    const { dir, cleanup } = await makeTmpDir();
    try {
      const oldM = rsaPublicPem();
      const newM = rsaPublicPem();
      const tree = await makeRouterTree(dir, oldM);
      const minion = new FakeMinion(tree, newM);
      minion.active = true;
      await minion.attempt();
      const w = new TrustWatcher({
        minionId: 'router-1',
        config: minionConfigPaths(tree.configDir),
        pkiDir: tree.pkiDir,
        logFile: tree.logFile,
        service: minion,
        clock: systemClock,
        logger: nullLogger,
        pollMs: 60_000,
      });
      const changes: string[] = [];
      w.on('change', (f: { state: string }) => changes.push(f.state));
      const first = await w.start();
      w.stop();
      assert.equal(first.state, 'stale-master-key');
      assert.ok(
        first.evidence.some((l) => l.includes('The master public key can be found at:')),
        'continuation lines kept as evidence',
      );
      await new Promise((r) => setTimeout(r, 20));
      await writeFile(join(tree.pkiDir, 'minion_master.pub'), newM.trim());
      assert.equal((await w.refresh()).state, 'trusted');
      w.setExpected(pemFinger(oldM));
      assert.equal((await w.refresh()).state, 'stale-master-key', 'the conductor says another key is current');
      minion.active = false;
      assert.equal((await w.refresh()).state, 'minion-down');
      assert.deepEqual(changes, ['stale-master-key', 'trusted', 'stale-master-key', 'minion-down']);
    } finally {
      await cleanup();
    }
  });

  /** A minion log line as Salt 3006 writes it, stamped at `at` (local time). */
  const logLine = (at: Date, level: string, msg: string): string => {
    const p = (n: number, w = 2) => String(n).padStart(w, '0');
    const d = at;
    const date = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
    const time = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`;
    return `${date} ${time} [salt.crypt        :1353][${level.padEnd(8)}][4242] ${msg}\n`;
  };
  const mismatchText = (pin: string, actual: string) =>
    `The specified fingerprint in the master configuration file:\n${pin}\n` +
    `Does not match the authenticating master's key:\n${actual}\n` +
    'Verify that the configured fingerprint matches the fingerprint of the correct master and that this minion ' +
    'is not subject to a man-in-the-middle attack.';
  const watcherFor = (tree: Awaited<ReturnType<typeof makeRouterTree>>, minion: FakeMinion) =>
    new TrustWatcher({
      minionId: 'router-1',
      config: minionConfigPaths(tree.configDir),
      pkiDir: tree.pkiDir,
      logFile: tree.logFile,
      service: minion,
      clock: systemClock,
      logger: nullLogger,
      pollMs: 60_000,
    });

  it('key change and finger mismatch in one poll: finger-mismatch with the lines, not minion-down (F2)', async () => {
    const { dir, cleanup } = await makeTmpDir();
    try {
      const oldM = rsaPublicPem();
      const rogue = rsaPublicPem();
      const tree = await makeRouterTree(dir, oldM);
      const minion = new FakeMinion(tree, oldM);
      await minion.start();
      const w = watcherFor(tree, minion);
      assert.equal((await w.start()).state, 'trusted');
      w.stop();
      // Between two polls: stopped, pinned to the old key, cached key removed, started against a
      // rogue master: Salt writes the rogue key, logs the mismatch and exits 42.
      await minion.stop();
      await writeFile(join(tree.configDir, 'minion.d', PIN_DROP_IN), `master_finger: '${pemFinger(oldM)}'\n`);
      await rm(join(tree.pkiDir, 'minion_master.pub'));
      minion.masterPub = rogue;
      await minion.start();
      assert.equal(minion.active, false, 'the fake exited 42');
      const f = await w.refresh();
      assert.equal(f.state, 'finger-mismatch');
      assert.equal(f.minionExit, 42);
      const mismatch = (l: string) => l.includes('The specified fingerprint in the master configuration file:');
      assert.ok(f.evidence.some(mismatch), f.evidence.join('\n'));
      assert.ok(f.evidence.includes(pemFinger(rogue)), 'the continuation lines name the refused key');
    } finally {
      await cleanup();
    }
  });

  it('old finger-mismatch line before the last minion start: trusted once the pin is fixed (F4)', async () => {
    const { dir, cleanup } = await makeTmpDir();
    try {
      const m = rsaPublicPem();
      const tree = await makeRouterTree(dir, m);
      const keyPath = join(tree.pkiDir, 'minion_master.pub');
      const past = Date.now() - 60_000;
      await utimes(keyPath, new Date(past - 10_000), new Date(past - 10_000));
      // A minute ago the minion refused this key (a wrong pin) and exited 42.
      await appendFile(tree.logFile, logLine(new Date(past), 'CRITICAL', mismatchText('aa:bb', pemFinger(m))));
      const minion = new FakeMinion(tree, m);
      // The operator fixed the pin and started the minion again; it authenticated (and logged nothing).
      await writeFile(join(tree.configDir, 'minion.d', PIN_DROP_IN), `master_finger: '${pemFinger(m)}'\n`);
      await minion.start();
      assert.equal(minion.active, true);
      const w = watcherFor(tree, minion); // what `router-agent status` builds: a fresh watcher reading the backlog
      const f = await w.start();
      w.stop();
      assert.equal(f.state, 'trusted', f.evidence.join('\n'));
      assert.deepEqual(f.evidence, []);
      // The same line logged after this start still counts (the minion is about to exit).
      const later = logLine(new Date(Date.now() + 1000), 'CRITICAL', mismatchText('aa:bb', pemFinger(m)));
      await appendFile(tree.logFile, later);
      assert.equal((await w.refresh()).state, 'finger-mismatch');
    } finally {
      await cleanup();
    }
  });

  it('pinned key cached, other master answering: finger-mismatch, not stale (a re-pin changes nothing) (F6)', async () => {
    const { dir, cleanup } = await makeTmpDir();
    try {
      const right = rsaPublicPem();
      const tree = await makeRouterTree(dir, right);
      await writeFile(join(tree.configDir, 'minion.d', PIN_DROP_IN), `master_finger: '${pemFinger(right)}'\n`);
      const minuteAgo = new Date(Date.now() - 60_000);
      await utimes(join(tree.pkiDir, 'minion_master.pub'), minuteAgo, minuteAgo);
      const minion = new FakeMinion(tree, rsaPublicPem());
      await minion.start(); // Salt logs "key has changed" and keeps retrying: no exit 42
      assert.equal(minion.active, true);
      const w = watcherFor(tree, minion);
      const f = await w.start();
      w.stop();
      assert.equal(f.state, 'finger-mismatch');
      assert.ok(f.evidence.some((l) => l.includes('The master key has changed')));
      w.setExpected('11:22');
      assert.equal((await w.refresh()).state, 'stale-master-key', 'the conductor says a new key is current: reauth');
    } finally {
      await cleanup();
    }
  });
});
