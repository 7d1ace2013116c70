/**
 * The configuration export reaches the new conductor over SFTP (real OpenSSH sshd on the new
 * conductor's loopback address) with its host key pinned; a wrong pin refuses before anything changes.
 */
import assert from 'node:assert/strict';
import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { main } from '../../conductor-agent/cli/main.js';
import { memoryIo } from '../helpers/cli.js';
import { makeMigrateWorld, NEW_ADDR, OLD_ADDR, type MigrateWorld } from '../helpers/migrate-world.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';

async function useSftp(w: MigrateWorld, sshd: Sshd, fingerprint: string): Promise<void> {
  await copyFile(sshd.clientKeyFile, join(w.oldRoot, 'etc/ssr-recovery/migrate_ed25519'));
  const cfg = parse(await readFile(w.configFile, 'utf8')) as { migrate: Record<string, unknown> };
  cfg.migrate.transfer = {
    method: 'sftp',
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKeyFile: '/etc/ssr-recovery/migrate_ed25519',
    hostKeyFingerprint: fingerprint,
    remoteRoot: w.newRoot,
  };
  await writeFile(w.configFile, stringify(cfg));
}

describe('migrate transfer over SFTP with a pinned host key (real sshd)', function () {
  this.timeout(120_000);
  let sshd: Sshd;
  let w: MigrateWorld | undefined;
  before(async () => {
    sshd = await startSshd({ host: NEW_ADDR });
  });
  after(async () => {
    await sshd?.stop();
  });
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('exports, copies over SFTP, imports and commits; keys are gated through the same channel', async () => {
    w = await makeMigrateWorld({ routers: 5 });
    await useSftp(w, sshd, sshd.hostKeyFingerprint);
    const io = memoryIo({});
    const code = await main(['--root', w.oldRoot, '--json', 'migrate', '--to', NEW_ADDR], io);
    assert.equal(code, 0, io.err());
    const exports = await readdir(join(w.newRoot, 'etc/128technology/config-exports'));
    assert.equal(exports.filter((f) => f.startsWith('ssr-recovery-migrate-')).length, 1);
    assert.equal(w.newSim.running.router.length, 5);
    assert.equal((await readdir(join(w.newRoot, 'etc/128technology/salt/pki/master/minions'))).length, 5);
  });

  it('a host key other than the pinned one is refused at preflight; nothing changes', async () => {
    w = await makeMigrateWorld({ routers: 2 });
    await useSftp(w, sshd, `SHA256:${'A'.repeat(43)}`);
    const io = memoryIo({});
    const code = await main(['--root', w.oldRoot, '--json', 'migrate', '--to', NEW_ADDR], io);
    assert.equal(code, 4, io.err());
    const trust = (
      JSON.parse(io.out()) as { findings: Array<{ check: string; details?: { code?: string } }> }
    ).findings.find((f) => f.check === 'trust')!;
    assert.equal(trust.details?.code, 'SSH_HOST_KEY_MISMATCH');
    assert.deepEqual(w.newSim.calls, []);
    for (const r of w.world.routers.values()) assert.deepEqual(r.conductors, [OLD_ADDR]);
  });
});
