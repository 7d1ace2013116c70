import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pemFinger, pemFingerFile, isSha256Finger, colonHex } from '../../../shared/salt/fingerprint.js';
import { hasCode } from '../../../shared/errors.js';
import { makeTmpDir } from '../../helpers/tmpdir.js';

describe('shared/salt/fingerprint (Salt pem_finger, reference §4.5)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await makeTmpDir()));
  after(() => cleanup());

  it('equals `grep -v -- ----- key.pub | sha256sum` colon-joined, for keys made by openssl', async () => {
    for (const bits of ['2048', '4096']) {
      const priv = join(dir, `k${bits}.pem`);
      const pub = join(dir, `k${bits}.pub`);
      execFileSync('openssl', ['genrsa', '-out', priv, bits], { stdio: 'ignore' });
      execFileSync('openssl', ['rsa', '-in', priv, '-pubout', '-out', pub], { stdio: 'ignore' });
      const expected = execFileSync('sh', ['-c', `grep -v -- '-----' "${pub}" | sha256sum`], {
        encoding: 'utf8',
      }).split(' ')[0]!;
      const fp = await pemFingerFile(pub);
      assert.equal(fp, colonHex(expected));
      assert.ok(isSha256Finger(fp));
      assert.equal(fp.length, 95);
    }
  });

  it('ignores blank lines, CRLF and a missing trailing newline, as Salt does', () => {
    const { publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const fp = pemFinger(publicKey);
    assert.equal(pemFinger(`\n${publicKey.replace(/\n/g, '\r\n')}\n\n`), fp);
    assert.equal(pemFinger(publicKey.trimEnd()), fp, 'clean_key form (no trailing newline) hashes the same body lines');
  });

  it('is not the hash of the DER or of the joined base64', () => {
    const { publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const joined = publicKey
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'))
      .join('');
    assert.notEqual(
      pemFinger(publicKey),
      pemFinger(`-----BEGIN PUBLIC KEY-----\n${joined}\n-----END PUBLIC KEY-----\n`),
    );
  });

  it('refuses text that is not PEM with KEYS_INVALID', async () => {
    assert.throws(
      () => pemFinger('hello'),
      (e) => hasCode(e, 'KEYS_INVALID'),
    );
    const f = join(dir, 'junk.pub');
    await writeFile(f, 'not a key\n');
    await assert.rejects(pemFingerFile(f), (e) => hasCode(e, 'KEYS_INVALID'));
  });
});
