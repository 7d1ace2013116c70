import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyArchive } from '../../conductor-agent/backup/verify.js';
import { allowlistForConfig } from '../../conductor-agent/restore/allowlist.js';
import { restoreConductor } from '../../conductor-agent/restore/index.js';
import { numericOwnerIds } from '../../conductor-agent/restore/owner-ids.js';
import { RecoveryError } from '../../shared/errors.js';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import { hostileCorpus, sha256, type FileSpec, type HostileCase } from '../fixtures/make-tar.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { BASE_FILES, fakeService, snapshot, snapshotDiff, testConfig } from './restore-support.js';

const BASE = BASE_FILES;

describe('restore and backup verify refuse hostile archives alike; the target stays byte-identical', function () {
  this.timeout(60_000);
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let root: string;
  let initial: Map<string, string>;
  let base: FileSpec[];

  before(async () => {
    tmp = await makeTmpDir('restore-hostile-');
    root = join(tmp.dir, 'root');
    await makeConductorTree(root, { routers: 2, minions: 1 });
    base = BASE.map((p) => {
      const st = statSync(join(root, p));
      return { path: p, body: readFileSync(join(root, p)), mode: st.mode & 0o777, uid: st.uid, gid: st.gid };
    });
    initial = snapshot(root);
  });
  after(() => tmp.cleanup());

  // Names at load time; archives are built per test on the real base files read in before().
  const write = (c: HostileCase): string => {
    const bytes = c.make();
    const archive = join(tmp.dir, `case-${sha256(c.name).slice(0, 8)}.tar.gz`);
    writeFileSync(archive, bytes);
    if (c.sidecarDir) mkdirSync(`${archive}.sha256`, { recursive: true });
    else writeFileSync(`${archive}.sha256`, `${c.sidecar ?? sha256(bytes)}  case.tar.gz\n`);
    return archive;
  };

  // Names at load time; archives are built per test on the real base files read in before().
  for (const c of hostileCorpus(BASE.map((path) => ({ path })))) {
    it(`restore refuses: ${c.name} (${c.code}${c.reason ? `/${c.reason}` : ''})`, async () => {
      const real = hostileCorpus(base).find((x) => x.name === c.name)!;
      const archive = write(real);
      const svc = fakeService();
      const err = await restoreConductor({
        archive,
        root,
        config: testConfig(real.config ?? {}),
        yes: true,
        ports: { services: [svc], owners: numericOwnerIds, flush: async () => undefined },
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof RecoveryError, `expected a refusal, got ${String(err)}`);
      assert.equal(err.code, real.code, err.message);
      if (real.reason) assert.equal(err.details.reason, real.reason);
      assert.deepEqual(snapshotDiff(initial, snapshot(root)), []);
      assert.ok(!svc.calls.includes('stop'), '128T must not be stopped for a refused archive');
    });
    if (c.restoreOnly) continue;
    it(`backup verify refuses: ${c.name} (${c.code}${c.reason ? `/${c.reason}` : ''})`, async () => {
      const real = hostileCorpus(base).find((x) => x.name === c.name)!;
      const archive = write(real);
      const v = await verifyArchive(archive, { allowlist: allowlistForConfig(testConfig(real.config ?? {})) });
      assert.equal(v.ok, false);
      assert.equal(v.status, 'failed');
      const hit = v.differences.find(
        (d) => d.code === real.code && (real.reason === undefined || d.reason === real.reason),
      );
      assert.ok(
        hit,
        `no ${real.code}/${real.reason ?? '*'} among ${JSON.stringify(v.differences.map((d) => `${d.code}/${d.reason}`))}`,
      );
      assert.deepEqual(snapshotDiff(initial, snapshot(root)), []);
    });
  }
});
