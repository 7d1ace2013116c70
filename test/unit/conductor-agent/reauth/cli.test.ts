import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nullLogger } from '../../../../shared/log/logger.js';
import { loadConfig } from '../../../../shared/config/load.js';
import { generateSigningKeyPair } from '../../../../shared/protocol/signing-keys.js';
import { main } from '../../../../conductor-agent/cli/main.js';
import { AgentRegistry } from '../../../../conductor-agent/registry/store.js';
import { createAgentService } from '../../../../conductor-agent/ws/service.js';
import { memoryIo } from '../../../helpers/cli.js';
import { makeTmpDir } from '../../../helpers/tmpdir.js';
import { rsaPublicPem } from '../../router-agent/fake-minion.js';

describe('conductor-agent fleet / reauth CLI (in-process)', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ dir: root, cleanup } = await makeTmpDir());
    await mkdir(join(root, 'etc/ssr-recovery'), { recursive: true });
    await writeFile(join(root, 'etc/ssr-recovery/conductor-agent.yaml'), "agents:\n  listen: '127.0.0.2:0'\n");
  });
  afterEach(() => cleanup());
  const stateDir = () => join(root, 'var/lib/ssr-recovery');

  it('fleet --json without a daemon shows the registry, and --approve (with the fingerprint) works on the file directly', async () => {
    const reg = await AgentRegistry.open(stateDir());
    await reg.enroll('router-1', generateSigningKeyPair().publicPem, { source: 'salt-event' });
    await reg.enroll('router-1', generateSigningKeyPair().publicPem, { source: 'salt-event' });
    let io = memoryIo();
    assert.equal(await main(['fleet', '--json', '--root', root], io), 0, io.err());
    const doc = JSON.parse(io.out()) as {
      daemon: boolean;
      routers: Array<{ routerId: string; connected: boolean; pendingKey?: string }>;
    };
    assert.equal(doc.daemon, false);
    assert.equal(doc.routers[0]?.routerId, 'router-1');
    assert.ok(doc.routers[0]?.pendingKey);
    io = memoryIo();
    assert.equal(
      await main(['fleet', '--json', '--root', root, '--approve', 'router-1'], io),
      2,
      'approval without --fingerprint is a usage error',
    );
    assert.equal((JSON.parse(io.out()) as { error: { code: string } }).error.code, 'USAGE');
    await reg.refresh();
    assert.ok(reg.get('router-1')?.pending, 'nothing approved');
    io = memoryIo();
    assert.equal(
      await main(
        [
          'fleet',
          '--root',
          root,
          '--approve',
          'router-1',
          '--fingerprint',
          '00'.repeat(32).replace(/(..)(?!$)/g, '$1:'),
        ],
        io,
      ),
      4,
      "a fingerprint other than the pending key's is refused (AGENT_KEY_CHANGED)",
    );
    io = memoryIo();
    assert.equal(
      await main(['fleet', '--root', root, '--approve', 'router-1', '--fingerprint', doc.routers[0]!.pendingKey!], io),
      0,
      io.err(),
    );
    await reg.refresh();
    assert.equal(reg.get('router-1')?.pending, undefined);
  });

  it('reauth needs --router (exit 2), and says when the daemon is not running (AGENT_DAEMON_UNREACHABLE)', async () => {
    let io = memoryIo();
    assert.equal(await main(['reauth', '--root', root], io), 2);
    io = memoryIo();
    assert.equal(await main(['reauth', '--json', '--root', root, '--router', 'router-1'], io), 1);
    assert.equal((JSON.parse(io.out()) as { error: { code: string } }).error.code, 'AGENT_DAEMON_UNREACHABLE');
  });

  it("reauth and fleet go through the daemon's agent service; an unenrolled router is refused (exit 4)", async () => {
    await mkdir(join(root, 'etc/128technology/salt/pki/master'), { recursive: true });
    await writeFile(join(root, 'etc/128technology/salt/pki/master/master.pub'), rsaPublicPem());
    const loaded = loadConfig({ agent: 'conductor-agent', root, env: {} });
    const svc = createAgentService({
      config: loaded.config,
      path: loaded.path,
      logger: nullLogger,
      enrollEvents: async () => undefined,
    });
    await svc.start();
    try {
      let io = memoryIo();
      const code = await main(['reauth', '--json', '--root', root, '--router', 'router-x'], io);
      assert.equal(code, 4, io.out() + io.err());
      assert.equal((JSON.parse(io.out()) as { error: { code: string } }).error.code, 'AGENT_NOT_ENROLLED');
      io = memoryIo();
      assert.equal(await main(['fleet', '--json', '--root', root], io), 0);
      assert.equal((JSON.parse(io.out()) as { daemon: boolean }).daemon, true);
      io = memoryIo();
      assert.equal(await main(['fleet', '--root', root], io), 0);
      assert.match(io.out(), /no router agents/);
    } finally {
      await svc.stop();
    }
  });
});
