import assert from 'node:assert/strict';
import { buildAllowlist, isAllowed, isAncestorOfAllowed } from '../../../../conductor-agent/restore/allowlist.js';
import { resolveLinkTarget, systemPathOfMember } from '../../../../conductor-agent/restore/member-path.js';
import { safeMode } from '../../../../conductor-agent/restore/modes.js';
import { RecoveryError } from '../../../../shared/errors.js';

const reason = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (err) {
    return err instanceof RecoveryError ? err.details.reason : err;
  }
  return undefined;
};

describe('member names, the allowlist and modes', () => {
  it('maps member names to system paths; the seed typo only for seed archives', () => {
    assert.equal(
      systemPathOfMember('etc/128technology/global.init', { seedArchive: false }),
      '/etc/128technology/global.init',
    );
    assert.equal(systemPathOfMember('./etc/x/', { seedArchive: false }), '/etc/x');
    assert.equal(systemPathOfMember('/etc/x', { seedArchive: false }), '/etc/x');
    assert.equal(systemPathOfMember('svr/salt/top.sls', { seedArchive: true }), '/srv/salt/top.sls');
    assert.equal(systemPathOfMember('svr/salt/top.sls', { seedArchive: false }), '/svr/salt/top.sls');
  });

  it('refuses .. anywhere, empty names and NUL bytes', () => {
    assert.equal(
      reason(() => systemPathOfMember('srv/salt/../../etc/shadow', { seedArchive: true })),
      'dot-dot',
    );
    assert.equal(
      reason(() => systemPathOfMember('..', { seedArchive: true })),
      'dot-dot',
    );
    assert.equal(
      reason(() => systemPathOfMember('./', { seedArchive: true })),
      'empty-name',
    );
    assert.equal(
      reason(() => systemPathOfMember('a\0b', { seedArchive: true })),
      'nul-in-name',
    );
  });

  it('resolves link targets and refuses ones that climb above /', () => {
    assert.equal(resolveLinkTarget('/srv/salt/a', 'b/c'), '/srv/salt/b/c');
    assert.equal(resolveLinkTarget('/srv/salt/a', '../pillar'), '/srv/pillar');
    assert.equal(resolveLinkTarget('/srv/salt/a', '/etc/shadow'), '/etc/shadow');
    assert.equal(resolveLinkTarget('/srv/a', '../../../etc'), undefined);
  });

  it('allows the backup set and its ancestors only', () => {
    const list = buildAllowlist({
      pkiDir: '/etc/128technology/salt/pki/master',
      stateDir: '/var/lib/ssr-recovery',
      extraPaths: ['/opt/extra'],
    });
    for (const p of [
      '/etc/128technology/global.init',
      '/etc/128technology/salt/pki/master/minions/r1',
      '/srv/salt/x',
      '/var/lib/ssr-recovery/registry.json',
      '/opt/extra/y',
    ])
      assert.ok(isAllowed(list, p), p);
    for (const p of [
      '/etc/shadow',
      '/etc/128technology/salt/master',
      '/srv/saltx',
      '/var/lib/ssr-recovery-restore/journal.json',
    ])
      assert.ok(!isAllowed(list, p), p);
    assert.ok(isAncestorOfAllowed(list, '/etc'));
    assert.ok(!isAncestorOfAllowed(list, '/root'));
  });

  it('tightens private files and folders (pki, agent state), leaves other modes as recorded', () => {
    const pki = '/etc/128technology/salt/pki/master';
    const list = buildAllowlist({ pkiDir: pki, stateDir: '/var/lib/ssr-recovery' });
    assert.equal(safeMode(list, `${pki}/master.pem`, 'file', 0o644), 0o600);
    assert.equal(safeMode(list, `${pki}/master.pem`, 'file', 0o400), 0o400);
    assert.equal(safeMode(list, `${pki}/master.pub`, 'file', 0o644), 0o644);
    assert.equal(safeMode(list, `${pki}/minions/router-1`, 'file', 0o644), 0o644);
    assert.equal(safeMode(list, `${pki}/minions`, 'dir', 0o755), 0o700);
    assert.equal(safeMode(list, '/var/lib/ssr-recovery', 'dir', 0o777), 0o700);
    assert.equal(safeMode(list, '/var/lib/ssr-recovery/conductor-agent.key', 'file', 0o644), 0o600);
    assert.equal(safeMode(list, '/var/lib/ssr-recovery/registry.json', 'file', 0o666), 0o600);
    assert.equal(safeMode(list, '/srv/salt', 'dir', 0o755), 0o755);
  });
});
