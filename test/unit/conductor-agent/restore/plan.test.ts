import assert from 'node:assert/strict';
import { buildAllowlist } from '../../../../conductor-agent/restore/allowlist.js';
import { changes, planRestore } from '../../../../conductor-agent/restore/plan.js';
import type { CurrentState, StagedMember } from '../../../../conductor-agent/restore/types.js';
import { hasCode } from '../../../../shared/errors.js';

const allowlist = buildAllowlist({ pkiDir: '/etc/128technology/salt/pki/master', stateDir: '/var/lib/ssr-recovery' });
const file = (path: string, sha256: string, extra: Partial<StagedMember> = {}): StagedMember => ({
  path,
  kind: 'file',
  size: 3,
  mode: 0o600,
  uid: 0,
  gid: 0,
  mtime: 1,
  sha256,
  ...extra,
});
const dir = (path: string, extra: Partial<StagedMember> = {}): StagedMember => ({
  path,
  kind: 'dir',
  size: 0,
  mode: 0o700,
  uid: 0,
  gid: 0,
  mtime: 1,
  ...extra,
});
const cur = (extra: Partial<CurrentState> = {}): CurrentState => ({
  kind: 'file',
  size: 3,
  mode: 0o600,
  uid: 0,
  gid: 0,
  sha256: 'aaa',
  ...extra,
});

describe('planRestore (pure)', () => {
  const M = '/etc/128technology/salt/pki/master/minions';
  it('adds missing paths, replaces changed content or metadata, leaves identical ones, keeps extras', () => {
    const plan = planRestore({
      members: [dir(M), file(`${M}/a`, 'aaa'), file(`${M}/b`, 'bbb'), file(`${M}/c`, 'aaa'), file(`${M}/d`, 'aaa')],
      current: new Map([
        [M, cur({ kind: 'dir', size: 0, mode: 0o700 })],
        [`${M}/a`, cur()],
        [`${M}/b`, cur()],
        [`${M}/c`, cur({ mode: 0o644 })],
      ]),
      extras: new Map([[`${M}/late`, cur()]]),
      allowlist,
    });
    const by = (p: string) => plan.entries.find((e) => e.path === p);
    assert.equal(by(M)?.action, 'same');
    assert.equal(by(`${M}/a`)?.action, 'same');
    assert.deepEqual([by(`${M}/b`)?.action, by(`${M}/b`)?.contentDiffers], ['replace', true]);
    assert.deepEqual(
      [by(`${M}/c`)?.action, by(`${M}/c`)?.contentDiffers, by(`${M}/c`)?.metaDiffers],
      ['replace', false, true],
    );
    assert.equal(by(`${M}/d`)?.action, 'add');
    assert.equal(by(`${M}/late`)?.action, 'keep');
    assert.deepEqual(plan.summary, { add: 1, replace: 2, same: 2, keep: 1, bytesToWrite: 6 });
  });

  it('never changes folders outside the restore set, nor implied folders', () => {
    const plan = planRestore({
      members: [dir('/etc', { mode: 0o700 }), dir('/srv', { implied: true, mode: 0o755 })],
      current: new Map([
        ['/etc', cur({ kind: 'dir', mode: 0o755 })],
        ['/srv', cur({ kind: 'dir', mode: 0o750 })],
      ]),
      allowlist,
    });
    assert.deepEqual(
      plan.entries.map((e) => e.action),
      ['same', 'same'],
    );
  });

  it('refuses a type conflict (folder on the target where the archive has a file)', () => {
    assert.throws(
      () =>
        planRestore({
          members: [file('/etc/128technology/global.init', 'x')],
          current: new Map([['/etc/128technology/global.init', cur({ kind: 'dir' })]]),
          allowlist,
        }),
      (err: unknown) => hasCode(err, 'RESTORE_PREFLIGHT'),
    );
  });

  it('orders changes: folders parents-first, then files, hard links last', () => {
    const plan = planRestore({
      members: [
        file('/srv/salt/a/x.sls', 'x'),
        dir('/srv/salt/a'),
        dir('/srv/salt'),
        { ...file('/srv/salt/h', 'x'), kind: 'hardlink' },
      ],
      current: new Map(),
      allowlist,
    });
    assert.deepEqual(
      changes(plan).map((e) => e.path),
      ['/srv/salt', '/srv/salt/a', '/srv/salt/a/x.sls', '/srv/salt/h'],
    );
  });
});
