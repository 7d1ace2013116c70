import assert from 'node:assert/strict';
import { allowlistOf, conductorFileSet, isAllowed } from '../../../../shared/backup/file-set.js';
import {
  MemberRules,
  resolveLinkTarget,
  resolvePhysical,
  type MemberHeader,
  type TargetLookup,
} from '../../../../shared/backup/member-rules.js';
import { RecoveryError } from '../../../../shared/errors.js';

const PKI = '/etc/128technology/salt/pki/master';
const list = allowlistOf({
  pkiDir: PKI,
  stateDir: '/var/lib/ssr-recovery',
  rotationsDir: '/srv/keys-kept',
  extraPaths: ['/opt/extra'],
});
const dir = (name: string, mode = 0o755): MemberHeader => ({ name, type: 'Directory', mode, size: 0 });
const file = (name: string, mode = 0o644, size = 1): MemberHeader => ({ name, type: 'File', mode, size });
const link = (name: string, linkpath: string): MemberHeader => ({
  name,
  type: 'SymbolicLink',
  mode: 0o777,
  size: 0,
  linkpath,
});
const hard = (name: string, linkpath: string): MemberHeader => ({ name, type: 'Link', mode: 0o644, size: 0, linkpath });

/** The reason the last header is refused for (after the earlier ones are accepted). */
function refusal(headers: MemberHeader[], target?: TargetLookup): string | undefined {
  const rules = new MemberRules({ allowlist: list, target });
  try {
    for (const h of headers) rules.check(h);
  } catch (err) {
    assert.ok(err instanceof RecoveryError);
    return String(err.details.reason);
  }
  return undefined;
}

describe('the conductor file set (one definition)', () => {
  it('backup takes what restore may write: every taken item is allowed, the /svr/salt typo and rotations too', () => {
    const c = {
      pkiDir: PKI,
      stateDir: '/var/lib/ssr-recovery',
      rotationsDir: '/srv/keys-kept',
      extraPaths: ['/opt/extra'],
    };
    for (const i of conductorFileSet(c)) assert.ok(isAllowed(allowlistOf(c), i.systemPath), i.systemPath);
    assert.deepEqual(list.privateAreas, [PKI, '/var/lib/ssr-recovery', '/srv/keys-kept']);
    assert.deepEqual(list.fileRoots, ['/srv/salt', '/srv/pillar', '/svr/salt']);
    assert.ok(list.regularFiles.has(`${PKI}/master.pem`));
  });

  it('rotations inside the state folder are not listed twice', () => {
    const set = conductorFileSet({
      pkiDir: PKI,
      stateDir: '/var/lib/ssr-recovery',
      rotationsDir: '/var/lib/ssr-recovery/keys/rotations',
    });
    assert.equal(set.filter((i) => i.systemPath.includes('rotations')).length, 0);
  });
});

describe('member-safety rules (pure, no streams)', () => {
  it('resolves links physically: through earlier symlinks and the target, not as text', () => {
    const links = new Map([['/srv/salt/sub/deep/l1', '/srv/salt']]);
    const text = resolveLinkTarget('/srv/salt/l2', `sub/deep/l1/../../${PKI.slice(1)}/master.pem`);
    assert.equal(text, `/srv/salt/sub/${PKI.slice(1)}/master.pem`, 'as text it stays in /srv/salt');
    assert.equal(
      resolvePhysical(`/srv/salt/sub/deep/l1/../../${PKI.slice(1)}/master.pem`, (p) => links.get(p)),
      `${PKI}/master.pem`,
    );
    assert.equal(
      resolvePhysical('/a/b', (p) => (p === '/a/b' ? '/a/b' : undefined)),
      undefined,
      'a loop',
    );
    assert.equal(
      resolvePhysical('/../etc', () => undefined),
      undefined,
      'above /',
    );
  });

  it('refuses a link that reaches a private file through an earlier link', () => {
    assert.equal(
      refusal([
        link('srv/salt/sub/deep/l1', '/srv/salt'),
        link('srv/salt/l2', `sub/deep/l1/../../${PKI.slice(1)}/master.pem`),
      ]),
      'link-private-area',
    );
  });

  it('refuses a link through a symlink already on the target', () => {
    const target: TargetLookup = (p) =>
      p === '/srv/salt/up' ? { kind: 'symlink', linkTarget: '/etc/128technology/salt/pki' } : undefined;
    assert.equal(refusal([link('srv/salt/x', 'up/master/master.pem')], target), 'link-private-area');
    assert.equal(refusal([file('srv/salt/up/master/x.sls')], target), 'through-symlink');
  });

  it('re-checks earlier links when a later one changes where they land', () => {
    assert.equal(
      refusal([link('srv/salt/x/a', 'b/../../etc/shadow'), link('srv/salt/x/b', '/srv/salt')]),
      'link-escape',
    );
  });

  it('refuses any link in or into a private area, hard or symbolic', () => {
    assert.equal(
      refusal([file(`${PKI.slice(1)}/master.pem`, 0o600), hard('srv/salt/k.sls', `${PKI.slice(1)}/master.pem`)]),
      'link-private-area',
    );
    assert.equal(refusal([link('srv/salt/k', '/var/lib/ssr-recovery/conductor-agent.key')]), 'link-private-area');
    assert.equal(refusal([link('srv/salt/k', '/srv/keys-kept/r1/master.pem')]), 'link-private-area');
    assert.equal(refusal([link(`${PKI.slice(1)}/minions/r`, '/srv/salt/top.sls')]), 'link-private-area');
    assert.equal(refusal([link('opt/extra/k', '/var/lib/ssr-recovery')]), 'link-private-area');
  });

  it('keeps links under the Salt file roots inside them; allows benign ones', () => {
    assert.equal(
      refusal([link('srv/salt/u.json', '/var/lib/128technology/user-running.json')]),
      'link-leaves-file-root',
    );
    assert.equal(
      refusal([
        link('srv/salt/latest.sls', 'legacy.sls'),
        link('srv/pillar/p', '../salt/top.sls'),
        link('opt/extra/s', '/srv/salt/top.sls'),
      ]),
      undefined,
    );
  });

  it('a symlink may not replace a folder earlier members are in; a file-set file is never a folder', () => {
    assert.equal(refusal([file('srv/salt/d/x.sls'), link('srv/salt/d', '/srv/pillar')]), 'through-symlink');
    assert.equal(refusal([dir(`${PKI.slice(1)}/master.pem`)]), 'type-mismatch');
  });

  it('a manifest/header mode conflict refuses; private modes are tightened', () => {
    const entry = {
      path: `${PKI.slice(1)}/master.pem`,
      type: 'file' as const,
      size: 1,
      mode: 0o777,
      uid: 0,
      gid: 0,
      mtime: '2026-01-01T00:00:00Z',
      sha256: 'a'.repeat(64),
    };
    const rules = new MemberRules({ allowlist: list, manifest: new Map([[`${PKI}/master.pem`, entry]]) });
    assert.throws(
      () => rules.check(file(entry.path, 0o600)),
      (e: RecoveryError) => e.details.reason === 'mode-mismatch',
    );
    const seed = new MemberRules({ allowlist: list });
    const m = seed.check(file('var/lib/ssr-recovery/conductor-agent.key', 0o644));
    assert.equal(m.mode, 0o600);
    assert.equal(m.recordedMode, 0o644);
    assert.equal(seed.check(dir('var/lib/ssr-recovery/keys/', 0o777)).mode, 0o700);
  });
});
