import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hasCode } from '../../../../shared/errors.js';
import {
  loadOrCreateConductorIdentity,
  readConductorIdentityPublic,
  AGENT_KEY_FILES,
} from '../../../../conductor-agent/identity/agent-key.js';
import { makeTmpDir } from '../../../helpers/tmpdir.js';

describe('conductor-agent/identity/agent-key (the agent channel identity)', () => {
  it('is created once with private files 0600 in a 0700 folder, then reused unchanged', async () => {
    const { dir, cleanup } = await makeTmpDir();
    try {
      const state = join(dir, 'state');
      assert.equal(await readConductorIdentityPublic(state), undefined);
      const a = await loadOrCreateConductorIdentity(state);
      assert.deepEqual(await readConductorIdentityPublic(state), {
        agentPublicKey: a.signing.publicPem,
        signingFingerprint: a.signingFingerprint,
        certFingerprint: a.certFingerprint,
      });
      assert.equal(a.created, true);
      assert.equal((await stat(state)).mode & 0o777, 0o700);
      for (const f of [AGENT_KEY_FILES.signingKey, AGENT_KEY_FILES.tlsKey])
        assert.equal((await stat(join(state, f))).mode & 0o777, 0o600, f);
      assert.equal(
        new X509Certificate(await readFile(join(state, AGENT_KEY_FILES.tlsCert))).fingerprint256,
        a.certFingerprint,
      );
      const b = await loadOrCreateConductorIdentity(state);
      assert.equal(b.created, false);
      assert.equal(b.signingFingerprint, a.signingFingerprint);
      assert.equal(b.certFingerprint, a.certFingerprint);
      await chmod(join(state, AGENT_KEY_FILES.signingKey), 0o644);
      await assert.rejects(loadOrCreateConductorIdentity(state), (e) => hasCode(e, 'FS_UNSAFE_PERMISSIONS'));
    } finally {
      await cleanup();
    }
  });
});
