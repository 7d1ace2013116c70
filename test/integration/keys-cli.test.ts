// `conductor-agent keys …` run in-process against a sandbox conductor tree under --root.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { colonHex, pemFinger } from '../../shared/salt/fingerprint.js';
import { memoryIo } from '../helpers/cli.js';
import { keySandbox, treeSnapshot, type KeySandbox } from '../unit/conductor-agent/keys/sandbox.js';

describe('conductor-agent keys (CLI, in-process, --root sandbox)', () => {
  let s: KeySandbox;
  const run = async (...args: string[]) => {
    // Imported dynamically: mocha loads specs through require, and the CLI's lazy import()s must see the
    // same module instances (error classes) as main does, or every RecoveryError looks like a bug.
    const { main } = await import('../../conductor-agent/cli/main.js');
    const io = memoryIo();
    const code = await main(['--root', s.root, ...args], io);
    return { code, out: io.out(), err: io.err() };
  };
  beforeEach(async () => {
    s = await keySandbox({ minions: 2, pending: 2 });
  });
  afterEach(() => s.cleanup());

  it('status --json: fingerprint as sha256sum computes it, counts, pending fingerprints', async () => {
    const r = await run('keys', 'status', '--json');
    assert.equal(r.code, 0, r.err);
    const doc = JSON.parse(r.out);
    const expected = colonHex(
      execFileSync('sh', ['-c', 'grep -v -- "-----" "$1" | sha256sum', 'sh', join(s.pkiDir, 'master.pub')], {
        encoding: 'utf8',
      }).split(' ')[0]!,
    );
    assert.equal(doc.master.fingerprint, expected);
    assert.deepEqual(doc.minions, { accepted: 2, pending: 2, rejected: 0, denied: 0 });
    assert.equal(doc.pending.length, 2);
    assert.equal(doc.signing.enabled, false);
  });

  it('fingerprint [file] prints the Salt fingerprint; a non-key file fails with KEYS_INVALID', async () => {
    const r = await run('keys', 'fingerprint', join(s.pkiDir, 'minions_pre', 'pending-1'));
    assert.equal(r.out.trim(), pemFinger(await readFile(join(s.pkiDir, 'minions_pre', 'pending-1'), 'utf8')));
    await writeFile(join(s.root, 'junk'), 'nope\n');
    const bad = await run('keys', 'fingerprint', join(s.root, 'junk'), '--json');
    assert.equal(JSON.parse(bad.out).error.code, 'KEYS_INVALID', bad.out);
  });

  it('enable-signing --dry-run changes nothing; then enable-signing turns signing on', async () => {
    const before = await treeSnapshot(s.root);
    const dry = await run('keys', 'enable-signing', '--dry-run', '--json');
    assert.equal(dry.code, 0, dry.err);
    assert.ok(JSON.parse(dry.out).changes.length >= 4);
    assert.deepEqual(await treeSnapshot(s.root), before);
    assert.equal((await run('keys', 'enable-signing')).code, 0);
    const st = JSON.parse((await run('keys', 'status', '--json')).out);
    assert.equal(st.signing.enabled, true);
    assert.equal(st.signing.signatureValid, true);
    assert.ok((await readdir(s.exportDir)).includes('master_sign.pub'));
  });

  it('accept --verified accepts the matching key and exits 7 when another does not match', async () => {
    const f1 = pemFinger(await readFile(join(s.pkiDir, 'minions_pre', 'pending-1'), 'utf8'));
    const wrong = Array.from({ length: 32 }, () => '00').join(':');
    const file = join(s.root, 'expected.txt');
    await writeFile(file, `pending-1 ${f1}\n`);
    const r = await run('keys', 'accept', '--verified', '--expected', file, '--expect', `pending-2=${wrong}`, '--json');
    assert.equal(r.code, 7, r.err);
    const doc = JSON.parse(r.out);
    assert.deepEqual(doc.accepted, ['pending-1']);
    assert.deepEqual(
      doc.mismatch.map((m: { id: string }) => m.id),
      ['pending-2'],
    );
    assert.deepEqual(await readdir(join(s.pkiDir, 'minions_pre')), ['pending-2']);
  });

  it('accept --verified takes its expected fingerprints from the agent registry by default (signed reports)', async () => {
    const { AgentRegistry } = await import('../../conductor-agent/registry/store.js');
    const { loadOrCreateAgentKey } = await import('../../router-agent/agent-key.js');
    const reg = await AgentRegistry.open(join(s.root, 'var/lib/ssr-recovery'), {
      lockFile: join(s.root, 'run/ssr-recovery/agent-registry.lock'),
      flushDelayMs: 1,
    });
    const f1 = pemFinger(await readFile(join(s.pkiDir, 'minions_pre', 'pending-1'), 'utf8'));
    for (const id of ['pending-1', 'pending-2']) {
      await reg.enroll(id, (await loadOrCreateAgentKey(join(s.root, `agent-${id}`))).publicPem, {
        source: 'salt-event',
      });
    }
    // pending-2's agent reported another minion key: its pending key stays pending.
    await reg.recordReported('pending-1', { minionKeyFingerprint: f1 });
    await reg.recordReported('pending-2', { minionKeyFingerprint: Array.from({ length: 32 }, () => 'ab').join(':') });
    await reg.flush();
    const r = await run('keys', 'accept', '--verified', '--json');
    assert.equal(r.code, 7, r.err);
    const doc = JSON.parse(r.out);
    assert.equal(doc.source, 'agent registry (signed reports)');
    assert.deepEqual(doc.accepted, ['pending-1']);
    assert.deepEqual(
      doc.mismatch.map((m: { id: string }) => m.id),
      ['pending-2'],
    );
  });

  it('accept without --verified is a usage error (exit 2) and accepts nothing', async () => {
    const r = await run('keys', 'accept', '--json');
    assert.equal(r.code, 2);
    assert.equal(JSON.parse(r.out).error.code, 'USAGE');
    assert.equal((await readdir(join(s.pkiDir, 'minions_pre'))).length, 2);
  });
});
