import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { restoreConductor } from '../../conductor-agent/restore/index.js';
import { JSON_WORKER_MIN_BYTES } from '../../conductor-agent/restore/json-check-async.js';
import { numericOwnerIds } from '../../conductor-agent/restore/owner-ids.js';
import { RecoveryError } from '../../shared/errors.js';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import { archiveWithManifest, manifestFor, rawEntriesFor, sha256, type FileSpec } from '../fixtures/make-tar.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { BASE_FILES, fakeService, snapshot, snapshotDiff, testConfig } from './restore-support.js';

const BASE = BASE_FILES;
const RUNNING = '/var/lib/128technology/t128-running.json';

// A running config large enough for the JSON worker, which then also hashes it (not the writer).
describe('restore of a large running config (checked and hashed in the JSON worker)', function () {
  this.timeout(60_000);
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let root: string;
  let initial: Map<string, string>;
  let base: FileSpec[];
  const big = Buffer.from(
    JSON.stringify(
      {
        datastore: {
          config: { router: Array.from({ length: 30000 }, (_, i) => ({ name: `router-${i}`, asset: `a${i}`, n: i })) },
        },
      },
      null,
      4,
    ),
  );

  before(async () => {
    assert.ok(big.length > JSON_WORKER_MIN_BYTES * 1.5);
    tmp = await makeTmpDir('restore-large-json-');
    root = join(tmp.dir, 'root');
    await makeConductorTree(root, { routers: 2, minions: 1 });
    base = BASE.map((p) => {
      const st = statSync(join(root, p));
      return {
        path: p,
        body: p === RUNNING ? big : readFileSync(join(root, p)),
        mode: st.mode & 0o777,
        uid: st.uid,
        gid: st.gid,
      };
    });
    initial = snapshot(root);
  });
  after(() => tmp.cleanup());

  const restoreBytes = async (name: string, bytes: Buffer) => {
    const archive = join(tmp.dir, `${name}.tar.gz`);
    writeFileSync(archive, bytes);
    writeFileSync(`${archive}.sha256`, `${sha256(bytes)}  ${name}.tar.gz\n`);
    const svc = fakeService();
    // make-tar's manifests are unsigned: like any unsigned archive, they restore only with --yes.
    const result = await restoreConductor({
      archive,
      root,
      config: testConfig(),
      yes: true,
      ports: { services: [svc], owners: numericOwnerIds, flush: async () => undefined },
    }).then(
      (r) => r,
      (e: unknown) => e,
    );
    return { result, svc };
  };

  it('refuses a running config whose bytes differ from the manifest hash (same size), touching nothing', async () => {
    const tampered = Buffer.from(big);
    tampered.write('"rooter-4', tampered.indexOf('"router-4'));
    const files = base.map((f) => (f.path === RUNNING ? { ...f, body: tampered } : f));
    const m = manifestFor(base);
    const { result, svc } = await restoreBytes('tampered', archiveWithManifest(rawEntriesFor(files), m));
    assert.ok(result instanceof RecoveryError, String(result));
    assert.equal(result.code, 'ARCHIVE_HASH_MISMATCH');
    assert.deepEqual(snapshotDiff(initial, snapshot(root)), []);
    assert.ok(!svc.calls.includes('stop'));
  });

  it('refuses a running config that is not JSON (hash matching), touching nothing', async () => {
    const broken = Buffer.concat([big.subarray(0, big.length - 3), Buffer.from(',]}')]);
    const files = base.map((f) => (f.path === RUNNING ? { ...f, body: broken } : f));
    const { result } = await restoreBytes('broken', archiveWithManifest(rawEntriesFor(files), manifestFor(files)));
    assert.ok(result instanceof RecoveryError, String(result));
    assert.equal(result.code, 'ARCHIVE_CORRUPT');
    assert.deepEqual(snapshotDiff(initial, snapshot(root)), []);
  });

  it('restores it when it matches', async () => {
    const { result } = await restoreBytes('good', archiveWithManifest(rawEntriesFor(base), manifestFor(base)));
    assert.equal((result as { ok?: boolean }).ok, true, String(result));
    assert.ok(readFileSync(join(root, RUNNING)).equals(big));
  });
});
