// Real Salt: `backup create` of the conductor (the real master's pki folder among it), the conductor
// wiped and rebuilt (the real master makes a new key pair: the real minions refuse it), then
// `restore`: the real master comes back with its old keys and the minions reconnect by themselves,
// with nothing done on the routers.
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRig, type Rig } from './rig.js';
import { cli, conductorBin, saltKeyMasterFinger, writeConductorConfig } from './support.js';

const PKI = 'etc/128technology/salt/pki/master';

/** What an initialised SSR conductor has beside Salt: its identity and configuration files. */
async function writeSsrFiles(rig: Rig): Promise<void> {
  await mkdir(join(rig.root, 'etc/128technology'), { recursive: true });
  await writeFile(
    join(rig.root, 'etc/128technology/global.init'),
    JSON.stringify({ init: { routerName: 'salt-conductor', conductor: { 'node-a': { host: rig.addr } } } }, null, 2),
  );
  await writeFile(join(rig.root, 'etc/128technology/local.init'), JSON.stringify({ init: { id: 'node-a' } }, null, 2));
  await mkdir(join(rig.root, 'var/lib/128technology'), { recursive: true });
  const empty = JSON.stringify({ authority: { router: [] } });
  await writeFile(join(rig.root, 'var/lib/128technology/t128-running.json'), empty);
  await writeFile(join(rig.root, 'var/lib/128technology/user-running.json'), empty);
}

describe('real Salt: backup → wipe → restore, minions reconnect by themselves', () => {
  let rig: Rig;
  let offbox: string;
  before(async () => {
    rig = await startRig({ minions: 2 });
    offbox = await mkdtemp(join(tmpdir(), 'ssrs-offbox-'));
    await writeSsrFiles(rig);
    writeConductorConfig(rig, {
      extra: {
        restore: { stopSaltMaster: true, postVerifyTimeoutMs: 120_000 },
        services: {
          'salt-master': rig.masterServiceCommands(),
          '128T': { start: 'true', stop: 'true', isActive: 'true' },
        },
      },
    });
  });
  after(async () => {
    await rig?.stop();
    await rm(offbox, { recursive: true, force: true });
  });

  it('restores the real master key pair and every minion answers again without touching a router', async () => {
    const original = await saltKeyMasterFinger(rig);
    const b = await cli(conductorBin, ['backup', 'create', '--json', '--root', rig.root], rig.env);
    assert.equal(b.code, 0, `${b.out}\n${b.err}`);
    const dir = join(rig.root, 'var/log/128technology');
    const name = (await readdir(dir)).find((n) => n.endsWith('.tar.gz'))!;
    await copyFile(join(dir, name), join(offbox, name)); // the operator keeps it off the box
    await copyFile(join(dir, `${name}.sha256`), join(offbox, `${name}.sha256`)).catch(() => undefined);

    // The disk is lost: the rebuilt conductor's master starts with a new key pair and no minion keys.
    await rig.stopMaster();
    await rm(join(rig.root, PKI), { recursive: true, force: true });
    await rm(join(rig.root, 'var/log/128technology'), { recursive: true, force: true });
    await rig.startMaster();
    assert.notEqual(await saltKeyMasterFinger(rig), original);
    assert.deepEqual(await rig.ping(rig.minionIds, 5), [], 'the minions refuse the rebuilt master (other key)');

    const r = await cli(conductorBin, ['restore', join(offbox, name), '--json', '--root', rig.root], rig.env);
    assert.equal(r.code, 0, `${r.out}\n${r.err.slice(-4000)}`);
    assert.equal(await saltKeyMasterFinger(rig), original);
    await rig.waitPing(rig.minionIds, 150_000); // minions retry on their own (15–30 s observed)
  });
});
