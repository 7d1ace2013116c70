import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSigningKeyPair } from '../../../shared/protocol/signing-keys.js';
import { fastRouterConfig, renderRouterConfig } from '../../../router-agent/config.js';
import { spawnRouterAgent } from '../../../router-agent/daemon/spawn.js';
import { makeTmpDir } from '../../helpers/tmpdir.js';
import { makeRouterTree } from './fake-minion.js';

describe('router-agent/daemon/spawn (the drill starts real agents this way)', function () {
  this.timeout(30_000);
  it('renders a config the fast path accepts, starts the daemon to its ready line, stops it with exit 0', async () => {
    const { dir, cleanup } = await makeTmpDir();
    try {
      await makeRouterTree(dir, undefined, 'router-s');
      const text = renderRouterConfig({
        conductorAddresses: ['127.0.0.2:1'],
        agentPublicKey: generateSigningKeyPair().publicPem,
        certFingerprint: '00'.repeat(32),
        services: { minion: { start: 'true', stop: 'true', restart: 'true', isActive: 'false' } },
        log: { level: 'warn' },
      });
      assert.ok(fastRouterConfig(JSON.parse(text)));
      await mkdir(join(dir, 'etc/ssr-recovery'), { recursive: true });
      await writeFile(join(dir, 'etc/ssr-recovery/router-agent.yaml'), text);
      const agent = await spawnRouterAgent({ root: dir });
      assert.equal(agent.readyInfo.minionId, 'router-s');
      assert.equal(agent.readyInfo.trust, 'minion-down');
      assert.equal(agent.readyInfo.channel, 'enabled');
      const code = await agent.stop();
      assert.equal(code, 0, `signal ${agent.child.signalCode} ${agent.stderr()}`);
    } finally {
      await cleanup();
    }
  });
});
