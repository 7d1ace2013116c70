import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createBackup } from '../../conductor-agent/backup/run.js';
import { main } from '../../conductor-agent/cli/main.js';
import { pemFinger } from '../../shared/salt/fingerprint.js';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import { startSaltSandbox, type SaltSandbox } from '../../sandbox/saltapi-emulator/sandbox.js';
import { memoryIo } from '../helpers/cli.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { saltApiSection } from '../helpers/salt-api-config.js';
import { rebuiltTarget, signerOf, testConfig } from './restore-support.js';

describe('restore against the simulated Salt side: salt-master stopped/started, salt-api answers in post-verify', function () {
  this.timeout(60_000);
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let salt: SaltSandbox | undefined;

  before(async () => {
    tmp = await makeTmpDir('restore-saltapi-');
  });
  after(async () => {
    await salt?.close();
    await tmp.cleanup();
  });

  it('restores the master key the salt-api then serves, through the real CLI wiring', async () => {
    const src = join(tmp.dir, 'src');
    await makeConductorTree(src, { minions: 2 });
    const { archive } = await createBackup({ config: testConfig(), root: src, hostname: 'cond1', dir: '/backups' });
    const root = join(tmp.dir, 'rebuilt');
    rebuiltTarget(src, root);
    salt = await startSaltSandbox({ root });
    const flag = join(tmp.dir, '128T-active');
    await writeFile(flag, '');
    await mkdir(join(root, 'etc/ssr-recovery'), { recursive: true });
    await writeFile(
      join(root, 'etc/ssr-recovery/conductor-agent.yaml'),
      stringify({
        saltApi: saltApiSection(salt),
        restore: { stopSaltMaster: true, postVerifyTimeoutMs: 20_000 },
        services: {
          '128T': { start: `touch ${flag}`, stop: `rm -f ${flag}`, isActive: `test -e ${flag}` },
          'salt-master': salt.masterServiceCommands,
        },
      }),
    );
    const io = memoryIo();
    // The rebuilt conductor has no identity yet: the operator names the old signer they kept off-box.
    const [signer] = await signerOf(src, testConfig());
    const code = await main(['--root', root, '--json', 'restore', archive, '--trusted-signer', signer!], io);
    assert.equal(code, 0, io.err() + io.out());
    const doc = JSON.parse(io.out());
    const status = (name: string) => doc.postVerify.find((c: { name: string }) => c.name === name)?.status;
    assert.equal(status('salt-api'), 'pass');
    assert.equal(status('service:salt-master'), 'pass');
    assert.equal(status('master-fingerprint'), 'pass');
    assert.equal(
      pemFinger(await readFile(join(root, 'etc/128technology/salt/pki/master/master.pub'), 'utf8')),
      pemFinger(await readFile(join(src, 'etc/128technology/salt/pki/master/master.pub'), 'utf8')),
    );
  });
});
