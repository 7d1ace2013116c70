// The real conductor-agent bin (dist/) for `keys`: exit codes and --json documents.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { colonHex } from '../../shared/salt/fingerprint.js';
import { keySandbox, treeSnapshot, type KeySandbox } from '../unit/conductor-agent/keys/sandbox.js';

const bin = fileURLToPath(new URL('../../dist/conductor-agent/bin.js', import.meta.url));
const env = { ...process.env, SSR_RECOVERY_LOG_LEVEL: undefined };

describe('conductor-agent keys (real bin)', () => {
  let s: KeySandbox;
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [bin, '--root', s.root, ...args], { encoding: 'utf8', env });
  before(async () => {
    s = await keySandbox({ minions: 2, pending: 1 });
  });
  after(() => s.cleanup());

  it('keys fingerprint equals `grep -v -- ----- master.pub | sha256sum`', () => {
    const r = run('keys', 'fingerprint');
    assert.equal(r.status, 0, r.stderr);
    const expected = execFileSync(
      'sh',
      ['-c', 'grep -v -- "-----" "$1" | sha256sum', 'sh', join(s.pkiDir, 'master.pub')],
      { encoding: 'utf8' },
    ).split(' ')[0]!;
    assert.equal(r.stdout.trim(), colonHex(expected));
  });

  it('keys status --json is one JSON document on stdout', () => {
    const r = run('keys', 'status', '--json');
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.ok, true);
    assert.deepEqual(doc.minions, { accepted: 2, pending: 1, rejected: 0, denied: 0 });
  });

  it('keys rotate refuses with exit 4 / KEYS_SIGNING_DISABLED before needing salt-api, and changes nothing', async () => {
    const before = await treeSnapshot(s.root);
    const r = run('keys', 'rotate', '--json');
    assert.equal(r.status, 4, r.stderr);
    assert.equal(JSON.parse(r.stdout).error.code, 'KEYS_SIGNING_DISABLED');
    assert.deepEqual(await treeSnapshot(s.root), before);
  });

  it('keys enable-signing --dry-run exits 0, lists changes and writes nothing', async () => {
    const before = await treeSnapshot(s.root);
    const r = run('keys', 'enable-signing', '--dry-run');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Would change/);
    assert.match(r.stdout, /master_sign_pubkey: false -> true|master_sign_pubkey: null -> true/);
    assert.deepEqual(await treeSnapshot(s.root), before);
    assert.equal(await readFile(s.masterConfig, 'utf8').then((t) => t.includes('master_sign_pubkey')), false);
  });

  it('keys rotate --rollback with nothing kept exits 1 / KEYS_ROTATION_NOT_FOUND', () => {
    const r = run('keys', 'rotate', '--rollback', '--json');
    assert.equal(r.status, 1, r.stderr);
    assert.equal(JSON.parse(r.stdout).error.code, 'KEYS_ROTATION_NOT_FOUND');
  });
});
