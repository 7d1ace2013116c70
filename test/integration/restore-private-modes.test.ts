import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { restoreConductor } from '../../conductor-agent/restore/index.js';
import { numericOwnerIds } from '../../conductor-agent/restore/owner-ids.js';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import { archiveWithManifest, rawEntriesFor, sha256, type FileSpec, type RawEntry } from '../fixtures/make-tar.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { BASE_FILES, fakeService, testConfig } from './restore-support.js';

const PKI = 'etc/128technology/salt/pki/master';
const STATE = 'var/lib/ssr-recovery';
const mode = (p: string): number => statSync(p).mode & 0o7777;

describe('restore writes private files 0600 in 0700 folders whatever the archive says; orphans of killed runs go', function () {
  this.timeout(60_000);
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let root: string;
  let base: FileSpec[];

  before(async () => {
    tmp = await makeTmpDir('restore-modes-');
    root = join(tmp.dir, 'root');
    await makeConductorTree(root, { routers: 2, minions: 1 });
    base = BASE_FILES.map((p) => {
      const st = statSync(join(root, p));
      return { path: p, body: readFileSync(join(root, p)), mode: st.mode & 0o777, uid: st.uid, gid: st.gid };
    });
  });
  after(() => tmp.cleanup());

  const restore = (archive: string, dryRun = false) =>
    restoreConductor({
      archive,
      root,
      config: testConfig(),
      yes: true,
      dryRun,
      ports: { services: [fakeService()], owners: numericOwnerIds, flush: async () => undefined },
    });

  it('agent private keys archived 0644 in a 0777 folder, and master.pem 0644 in a 0777 pki folder, come back 0600 in 0700', async () => {
    const loose: RawEntry[] = [
      { path: `${PKI}/`, type: 'Directory', mode: 0o777 },
      { path: `${STATE}/`, type: 'Directory', mode: 0o777 },
      { path: `${STATE}/conductor-agent.key`, body: 'PRIVATE\n', mode: 0o644 },
      { path: `${STATE}/keys/`, type: 'Directory', mode: 0o755 },
      { path: `${STATE}/keys/tls.key`, body: 'TLS PRIVATE\n', mode: 0o666 },
    ];
    const files = rawEntriesFor(base).map((e) => (e.path?.endsWith('master.pem') ? { ...e, mode: 0o644 } : e));
    const bytes = archiveWithManifest([...loose, ...files], null);
    const archive = join(tmp.dir, 'loose.tar.gz');
    writeFileSync(archive, bytes);
    writeFileSync(`${archive}.sha256`, `${sha256(bytes)}  loose.tar.gz\n`);
    const report = await restore(archive);
    assert.equal(report.ok, true);
    assert.equal(mode(join(root, PKI)), 0o700);
    assert.equal(mode(join(root, PKI, 'master.pem')), 0o600);
    assert.equal(mode(join(root, STATE)), 0o700);
    assert.equal(mode(join(root, STATE, 'conductor-agent.key')), 0o600);
    assert.equal(mode(join(root, STATE, 'keys')), 0o700);
    assert.equal(mode(join(root, STATE, 'keys/tls.key')), 0o600);
    const tightened = report.findings.filter((f) => f.check === 'modes').map((f) => f.summary.split(':')[0]);
    assert.ok(tightened.includes(`/${STATE}/conductor-agent.key`), JSON.stringify(tightened));
  });

  it('a run folder left by a kill between removing the journal and removing the folder is removed by the next run', async () => {
    const journalDir = join(root, 'var/lib/ssr-recovery-restore');
    const orphan = join(journalDir, 'run-20261201T101500000Z-abc123');
    mkdirSync(join(orphan, 'staging', PKI), { recursive: true, mode: 0o700 });
    writeFileSync(join(orphan, 'staging', PKI, 'master.pem'), 'a staged private key\n', { mode: 0o600 });
    const dryOrphan = join(journalDir, 'dry-run-20261201T101600000Z-def456');
    mkdirSync(dryOrphan, { recursive: true });
    const bytes = archiveWithManifest(rawEntriesFor(base), null);
    const archive = join(tmp.dir, 'plain.tar.gz');
    writeFileSync(archive, bytes);
    await restore(archive, true);
    assert.equal(existsSync(orphan), false);
    assert.equal(existsSync(dryOrphan), false);
  });
});
