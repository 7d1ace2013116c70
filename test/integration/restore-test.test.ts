// `backup verify --restore-test`: a backup restored into a private sandbox by the real restore
// pipeline and checked end to end, the live conductor untouched, the result remembered.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBackup } from '../../conductor-agent/backup/run.js';
import { readRestoreTests, restoreTest } from '../../conductor-agent/backup/restore-test.js';
import { loadOrCreateConductorIdentity } from '../../conductor-agent/identity/agent-key.js';
import { conductorSchema, underRoot } from '../../shared/config/schema.js';
import { makeConductorTree, rsaPair } from '../../sandbox/conductor-tree.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

function treeHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else h.update(`${p}\0${st.mode}\0`).update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

describe('backup restore-test', function () {
  this.timeout(60_000);
  const config = conductorSchema.parse({});
  let root: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir: root, cleanup } = await makeTmpDir('ssr-restore-test-'));
    await makeConductorTree(root, { minions: 3, shareMinionKey: true });
    await loadOrCreateConductorIdentity(underRoot(root, config.agents.stateDir));
  });
  after(() => cleanup());

  it('restores a good backup into a sandbox, passes every check, and touches nothing of the live conductor', async () => {
    const { archive } = await createBackup({ config, root, hostname: 'h' });
    const live = treeHash(join(root, 'etc'));
    const r = await restoreTest({ archive, config, root });
    assert.equal(r.ok, true, JSON.stringify(r.checks, null, 2));
    assert.deepEqual(r.checks.map((c) => c.name).sort(), [
      'conductor-agent identity loads',
      'datastores parse',
      'files match their manifest hashes',
      'master key pair matches',
      'minion keys are valid keys',
      'restore',
      'signature trusted',
    ]);
    assert.equal(treeHash(join(root, 'etc')), live);
    assert.deepEqual(readdirSync(join(root, 'var/lib/ssr-recovery-restore-test')), [], 'the sandbox is removed');
    const remembered = await readRestoreTests(underRoot(root, config.agents.stateDir));
    assert.equal(remembered[r.archive]?.ok, true);
  });

  it("fails, naming the check, when the backup holds a master.pub that is not master.pem's", async () => {
    const pki = join(root, 'etc/128technology/salt/pki/master');
    const good = readFileSync(join(pki, 'master.pub'));
    writeFileSync(join(pki, 'master.pub'), rsaPair().publicKey);
    try {
      const { archive } = await createBackup({ config, root, hostname: 'h2' });
      const r = await restoreTest({ archive, config, root });
      assert.equal(r.ok, false);
      const failed = r.checks.filter((c) => !c.ok).map((c) => c.name);
      assert.ok(failed.length > 0);
      assert.ok(
        failed.some((n) => /master key pair|archive verified|restore/.test(n)),
        failed.join(', '),
      );
      assert.equal((await readRestoreTests(underRoot(root, config.agents.stateDir)))[r.archive]?.ok, false);
    } finally {
      writeFileSync(join(pki, 'master.pub'), good);
    }
  });
});
