import assert from 'node:assert/strict';
import { mkdtemp, rm, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkAddresses,
  checkNoConflict,
  checkVersions,
  compareVersions,
  configDiff,
  globMatcher,
} from '../../../../conductor-agent/migrate/plan.js';
import { decideTrust, unavailableRepin } from '../../../../conductor-agent/migrate/trust.js';
import { Journal, foldJournal, parseFault, readJournal } from '../../../../conductor-agent/migrate/journal.js';
import { rateGate } from '../../../../conductor-agent/migrate/asset-watch.js';
import { migrateWords, pcliArgv } from '../../../../conductor-agent/ssr/pcli.js';
import { rsaPair } from '../../../../sandbox/conductor-tree.js';
import { parseMigrate } from '../../../../sandbox/ssr-simulator/authority.js';
import { hasCode } from '../../../../shared/errors.js';

describe('migrate rules (pure)', () => {
  it('addresses: one or two, distinct, valid, none of them an old one', () => {
    assert.equal(checkAddresses(['10.0.0.3'], ['10.0.0.2']).ok, true);
    assert.equal(checkAddresses(['10.0.0.3', '10.0.0.4'], ['10.0.0.2']).ok, true);
    assert.equal(checkAddresses(['10.0.0.3', '10.0.0.4', '10.0.0.5'], ['10.0.0.2']).ok, false);
    assert.equal(checkAddresses(['10.0.0.2'], ['10.0.0.2']).ok, false);
    assert.equal(checkAddresses(['10.0.0.3', '10.0.0.3'], ['10.0.0.2']).ok, false);
    assert.equal(checkAddresses(['10.0.0.3;reboot'], ['10.0.0.2']).ok, false);
    assert.equal(checkAddresses(['10.0.0.3'], []).ok, false);
  });

  it('versions: the new conductor may not be older', () => {
    assert.ok(compareVersions('6.3.0-107.r1', '6.2.5-5.r2') > 0);
    assert.ok(compareVersions('6.3.0-107.r1', '6.3.0-107.r1') === 0);
    assert.equal(checkVersions('6.3.0', '6.2.9').ok, false);
    assert.equal(checkVersions(undefined, '6.2.9').ok, false);
  });

  it("conflict: foreign routers or someone else's pending edits on the new conductor", () => {
    const old = { name: 'a', conductorAddresses: ['1.1.1.1'], routers: [{ name: 'r1', nodes: [] }] };
    assert.equal(checkNoConflict(old, { conductorAddresses: [], routers: [] }, false, false).ok, true);
    assert.equal(
      checkNoConflict(old, { conductorAddresses: [], routers: [{ name: 'r1', nodes: [] }] }, false, false).ok,
      true,
    );
    assert.equal(
      checkNoConflict(old, { conductorAddresses: [], routers: [{ name: 'x', nodes: [] }] }, false, false).ok,
      false,
    );
    assert.equal(checkNoConflict(old, { conductorAddresses: [], routers: [] }, true, false).ok, false);
    assert.equal(checkNoConflict(old, { conductorAddresses: [], routers: [] }, true, true).ok, true);
    const d = configDiff(old, { conductorAddresses: [], routers: [] }, ['2.2.2.2']);
    assert.deepEqual(d, {
      conductorAddress: { before: ['1.1.1.1'], after: ['2.2.2.2'] },
      addRouters: ['r1'],
      presentRouters: [],
    });
  });

  it('router globs match * and ? and nothing else', () => {
    const m = globMatcher('branch-?.*');
    assert.equal(m('branch-1.east'), true);
    assert.equal(m('branch-12.east'), false);
    assert.equal(m('branchX1.east'), false);
  });

  it('trust: same key → same-key; another key → repin only when a re-pin path exists, never TOFU', () => {
    const a = rsaPair(1024).publicKey;
    const b = rsaPair(1024).publicKey;
    assert.equal(decideTrust(a, Buffer.from(a), 'auto', unavailableRepin).mode, 'same-key');
    assert.throws(
      () => decideTrust(a, Buffer.from(b), 'auto', unavailableRepin),
      (e) => hasCode(e, 'MIGRATE_TRUST_UNAVAILABLE'),
    );
    assert.throws(
      () => decideTrust(a, Buffer.from(b), 'same-key', { available: true, description: '' }),
      (e) => hasCode(e, 'MIGRATE_TRUST_UNAVAILABLE'),
    );
    assert.equal(decideTrust(a, Buffer.from(b), 'auto', { available: true, description: '' }).mode, 'repin');
    assert.throws(
      () => decideTrust(a, undefined, 'auto', unavailableRepin),
      (e) => hasCode(e, 'MIGRATE_PREFLIGHT'),
    );
  });

  it('PCLI: the documented grammar, argv only, hostile words refused', () => {
    assert.deepEqual(migrateWords('r1', ['10.0.0.3', '10.0.0.4'], { force: true }), [
      'migrate',
      'force',
      'conductor',
      '10.0.0.3',
      '10.0.0.4',
      'router',
      'r1',
    ]);
    assert.deepEqual(pcliArgv('pcli', ['migrate', 'router', 'r1']), ['pcli', 'migrate', 'router', 'r1']);
    assert.deepEqual(pcliArgv('su admin -c {line}', ['show', 'assets']), ['su', 'admin', '-c', 'show assets']);
    assert.deepEqual(pcliArgv("ssh 'root@h' pcli {words} --x", ['a', 'b']), ['ssh', 'root@h', 'pcli', 'a', 'b', '--x']);
    assert.throws(
      () => migrateWords('r1;rm -rf /', ['10.0.0.3']),
      (e) => hasCode(e, 'USAGE'),
    );
    assert.throws(
      () => migrateWords('r1', ['$(id)']),
      (e) => hasCode(e, 'USAGE'),
    );
    assert.throws(
      () => migrateWords('r1', []),
      (e) => hasCode(e, 'USAGE'),
    );
    // the simulator's parser reads what the client writes
    assert.deepEqual(parseMigrate(migrateWords('r1', ['a1', 'a2'], { force: true, skipValidation: true })), {
      force: true,
      skipValidation: true,
      addresses: ['a1', 'a2'],
      router: 'r1',
    });
    assert.equal(typeof parseMigrate(['migrate', 'conductor', 'router', 'r1']), 'string');
  });

  it('rate gate spaces starts 1/rate apart (fake clock)', async () => {
    let now = 1000;
    const sleeps: number[] = [];
    const clock = {
      now: () => now,
      setTimeout,
      clearTimeout,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        now += ms;
      },
    };
    const gate = rateGate(4, clock as never);
    for (let i = 0; i < 5; i++) await gate();
    assert.deepEqual(sleeps, [250, 250, 250, 250]);
    // 500 ms late (busy loop): the next two slots are already due, then the spacing resumes
    now += 750;
    sleeps.length = 0;
    for (let i = 0; i < 4; i++) await gate();
    assert.deepEqual(sleeps, [250]);
    // 10 s late: at most one second's worth of catch-up
    now += 10_000;
    sleeps.length = 0;
    for (let i = 0; i < 6; i++) await gate();
    assert.deepEqual(sleeps, [250, 250]);
  });

  it('journal: records survive, a torn last line (kill -9 mid-write) is ignored, faults parse', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mig-journal-'));
    try {
      const j = await Journal.open(dir);
      await j.run('started', { args: { to: ['x'] } });
      await j.router('r1', 'router-migrating');
      await j.router('r1', 'router-done', { timings: { totalMs: 5 } });
      await j.close();
      await appendFile(join(dir, 'journal.jsonl'), '{"t":"router","phase":"router-mig');
      const s = foldJournal((await readJournal(dir))!);
      assert.equal(s.records, 3);
      assert.equal(s.routers.get('r1')?.phase, 'router-done');
      assert.deepEqual(s.routers.get('r1')?.history, ['router-migrating', 'router-done']);
      assert.deepEqual(parseFault('router-done:3'), { phase: 'router-done', nth: 3 });
      assert.equal(parseFault(undefined), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
