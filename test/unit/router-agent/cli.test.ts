import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main } from '../../../router-agent/cli/main.js';
import { memoryIo } from '../../helpers/cli.js';
import { makeTmpDir } from '../../helpers/tmpdir.js';
import { makeRouterTree, rsaPublicPem } from './fake-minion.js';

describe('router-agent CLI (in-process)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ dir, cleanup } = await makeTmpDir());
    await makeRouterTree(dir, rsaPublicPem());
    await mkdir(join(dir, 'etc/ssr-recovery'), { recursive: true });
    // The minion "service" is inert: never active, start/stop succeed.
    await writeFile(
      join(dir, 'etc/ssr-recovery/router-agent.yaml'),
      JSON.stringify({
        services: { minion: { start: 'true', stop: 'true', restart: 'true', isActive: 'false' } },
        agent: { settleMs: 0, pollMs: 20 },
      }),
    );
  });
  afterEach(() => cleanup());

  it('status --json reports the trust state and why the agent channel is off', async () => {
    const io = memoryIo();
    assert.equal(await main(['status', '--json', '--root', dir], io), 0, io.err());
    const doc = JSON.parse(io.out()) as {
      trust: { state: string; minionId: string; cachedFingerprint: string };
      channel: string;
    };
    assert.equal(doc.trust.state, 'minion-down');
    assert.equal(doc.trust.minionId, 'router-1');
    assert.match(doc.trust.cachedFingerprint, /^[0-9a-f]{2}(:[0-9a-f]{2}){31}$/);
    assert.match(doc.channel, /agentPublicKey/);
  });

  it('status --json shows the agent key fingerprint an operator compares before fleet --approve --fingerprint', async () => {
    const { loadOrCreateAgentKey } = await import('../../../router-agent/agent-key.js');
    let io = memoryIo();
    assert.equal(await main(['status', '--json', '--root', dir], io), 0, io.err());
    assert.equal((JSON.parse(io.out()) as { agentKeyFingerprint: unknown }).agentKeyFingerprint, null, 'no key yet');
    const key = await loadOrCreateAgentKey(join(dir, 'var/lib/ssr-recovery-router'));
    io = memoryIo();
    assert.equal(await main(['status', '--json', '--root', dir], io), 0, io.err());
    assert.equal((JSON.parse(io.out()) as { agentKeyFingerprint: unknown }).agentKeyFingerprint, key.fingerprint);
  });

  it('reauth needs exactly one of --fingerprint, --rollback, --trust-first-master (exit 2)', async () => {
    for (const args of [[], ['--fingerprint', 'x', '--rollback'], ['--rollback', '--trust-first-master']]) {
      const io = memoryIo();
      assert.equal(await main(['reauth', '--root', dir, ...args], io), 2, args.join(' '));
    }
  });

  it('reauth --fingerprint refuses a malformed fingerprint before touching anything (exit 4, REAUTH_REFUSED)', async () => {
    const io = memoryIo();
    assert.equal(await main(['reauth', '--json', '--root', dir, '--fingerprint', 'ab:cd'], io), 4);
    assert.equal((JSON.parse(io.out()) as { code: string }).code, 'REAUTH_REFUSED');
  });

  it('reauth --trust-first-master is loud, and fails with the evidence when the minion never authenticates', async () => {
    const io = memoryIo();
    assert.equal(await main(['reauth', '--root', dir, '--trust-first-master', '--timeout', '100'], io), 1);
    assert.match(io.err(), /WARNING: --trust-first-master/);
    assert.match(io.out(), /FAILED \(REAUTH_FAILED\)/);
  });

  it('reauth --rollback with nothing to undo says so (REAUTH_NOTHING_TO_ROLL_BACK)', async () => {
    const io = memoryIo();
    assert.equal(await main(['reauth', '--json', '--root', dir, '--rollback'], io), 1);
    assert.equal((JSON.parse(io.out()) as { code: string }).code, 'REAUTH_NOTHING_TO_ROLL_BACK');
  });
});
