import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  applyMasterConfigEdit,
  parseMasterConfig,
  planMasterConfigEdit,
  readMasterConfig,
} from '../../../../conductor-agent/keys/master-config.js';
import { hasCode } from '../../../../shared/errors.js';
import { makeTmpDir } from '../../../helpers/tmpdir.js';

describe('conductor-agent/keys/master-config', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await makeTmpDir()));
  afterEach(() => cleanup());

  it('reads the signing options with Salt defaults and YAML 1.1 booleans', () => {
    assert.deepEqual(parseMasterConfig('m', ''), {
      signPubkey: false,
      usePubkeySignature: false,
      signKeyName: 'master_sign',
      pubkeySignatureFile: 'master_pubkey_signature',
      hashType: 'sha256',
      pkiDir: undefined,
    });
    const s = parseMasterConfig(
      'm',
      'master_sign_pubkey: yes\nmaster_use_pubkey_signature: True\nmaster_sign_key_name: sk\nhash_type: SHA512\n',
    );
    assert.equal(s.signPubkey, true);
    assert.equal(s.usePubkeySignature, true);
    assert.equal(s.signKeyName, 'sk');
    assert.equal(s.hashType, 'sha512');
  });

  it('plans an edit that keeps comments and other keys, and reports only real changes', () => {
    const text = '# keep me\ninterface: 0.0.0.0 # inline\nmaster_sign_pubkey: False\n';
    const e = planMasterConfigEdit('m', text, { master_sign_pubkey: true, interface: '0.0.0.0' });
    assert.deepEqual(e.changes, [{ key: 'master_sign_pubkey', from: false, to: true }]);
    assert.match(e.text, /# keep me/);
    assert.match(e.text, /interface: 0.0.0.0 # inline/);
    assert.equal(parseMasterConfig('m', e.text).signPubkey, true);
    assert.equal(planMasterConfigEdit('m', e.text, { master_sign_pubkey: true }).changes.length, 0);
    assert.equal(
      parseMasterConfig('m', planMasterConfigEdit('m', '# only a comment\n', { master_sign_pubkey: true }).text)
        .signPubkey,
      true,
    );
  });

  it('applies atomically with a timestamped backup of the old file, keeping its mode', async () => {
    const path = join(dir, 'master');
    await writeFile(path, 'interface: 0.0.0.0\n', { mode: 0o640 });
    const cur = await readMasterConfig(path);
    const backup = await applyMasterConfigEdit(
      cur,
      planMasterConfigEdit(path, cur.text, { master_sign_pubkey: true }),
      new Date('2026-11-24T12:00:00Z'),
    );
    assert.equal(backup, join(dir, 'master.ssr-recovery-20261124T120000Z.bak'));
    assert.equal(await readFile(backup!, 'utf8'), 'interface: 0.0.0.0\n');
    assert.equal((await stat(path)).mode & 0o777, 0o640);
    assert.equal((await readMasterConfig(path)).settings.signPubkey, true);
    assert.deepEqual(
      (await readdir(dir)).filter((n) => n.endsWith('.tmp')),
      [],
    );
  });

  it('refuses with KEYS_REFUSED when the file changed after it was read (a concurrent edit is never lost)', async () => {
    const path = join(dir, 'master');
    await writeFile(path, 'a: 1\n');
    const cur = await readMasterConfig(path);
    await writeFile(path, 'a: 2\n');
    await assert.rejects(
      applyMasterConfigEdit(cur, planMasterConfigEdit(path, cur.text, { b: true }), new Date()),
      (e) => hasCode(e, 'KEYS_REFUSED'),
    );
    assert.equal(await readFile(path, 'utf8'), 'a: 2\n');
  });

  it('refuses invalid YAML or a non-mapping with KEYS_MASTER_CONFIG_INVALID', async () => {
    const path = join(dir, 'master');
    await writeFile(path, 'a: [1,\n');
    await assert.rejects(readMasterConfig(path), (e) => hasCode(e, 'KEYS_MASTER_CONFIG_INVALID'));
    assert.throws(
      () => parseMasterConfig('m', '- a\n- b\n'),
      (e) => hasCode(e, 'KEYS_MASTER_CONFIG_INVALID'),
    );
  });
});
