import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { buildAllowlist } from '../../conductor-agent/restore/allowlist.js';
import { extractToStaging } from '../../conductor-agent/restore/extract.js';
import { numericOwnerIds } from '../../conductor-agent/restore/owner-ids.js';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { snapshot, snapshotDiff } from './restore-support.js';

const PKI = '/etc/128technology/salt/pki/master';

describe('staging writers: the writer worker stages exactly what inline writes stage', function () {
  this.timeout(30_000);
  it('same files, links, modes, owners and times either way', async () => {
    const tmp = await makeTmpDir('restore-writer-');
    try {
      const src = join(tmp.dir, 'src');
      await makeConductorTree(src, { minions: 5, states: 30 });
      symlinkSync('s1', join(src, 'srv/salt/current'));
      const archive = join(tmp.dir, 'seed.tar.gz');
      execFileSync('tar', [
        '-C',
        src,
        '-czf',
        archive,
        'etc/128technology',
        'var/lib/128technology',
        'srv/salt',
        'srv/pillar',
      ]);
      const out: Record<string, Map<string, string>> = {};
      for (const writer of ['inline', 'worker'] as const) {
        const staging = join(tmp.dir, writer);
        mkdirSync(staging, { mode: 0o700 });
        const r = await extractToStaging({
          archive,
          staging,
          writer,
          allowlist: buildAllowlist({ pkiDir: PKI, stateDir: '/var/lib/ssr-recovery' }),
          owners: numericOwnerIds,
          jsonPaths: new Set(['/var/lib/128technology/t128-running.json']),
        });
        assert.equal(r.jsonErrors.size, 0);
        out[writer] = snapshot(staging);
      }
      assert.ok(out.inline!.size > 40);
      assert.deepEqual(snapshotDiff(out.inline!, out.worker!), []);
      assert.equal(out.worker!.get('/srv/salt/current'), out.inline!.get('/srv/salt/current'));
    } finally {
      await tmp.cleanup();
    }
  });
});
