import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBackup, type BackupReport } from '../../conductor-agent/backup/run.js';
import { verifyArchive, type DifferenceKind } from '../../conductor-agent/backup/verify.js';
import { MANIFEST_NAME } from '../../shared/backup/format.js';
import { conductorSchema } from '../../shared/config/schema.js';
import { hasCode } from '../../shared/errors.js';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

const RUNNING = 'var/lib/128technology/t128-running.json';
const MINION = 'etc/128technology/salt/pki/master/minions/router-1';

function tar(args: string[], cwd?: string): string {
  const r = spawnSync('tar', args, { encoding: 'utf8', cwd, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`tar ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe('backup verify says exactly what differs', function () {
  this.timeout(60_000);
  let root: string;
  let cleanup: () => Promise<void>;
  let report: BackupReport;
  let members: string[];
  let n = 0;

  before(async () => {
    ({ dir: root, cleanup } = await makeTmpDir('ssr-verify-'));
    await makeConductorTree(root, { minions: 2, shareMinionKey: true });
    report = await createBackup({ config: conductorSchema.parse({}), root, hostname: 'h' });
    members = tar(['-tzf', report.archive]).trim().split('\n');
  });
  after(async () => cleanup());

  /** Extract, let `change` edit the copy, re-pack the given members in order (manifest first), keep the original sidecar. */
  function tampered(change: (dir: string) => void, list: string[] = members): string {
    const dir = join(root, `t${++n}`);
    mkdirSync(dir);
    tar(['-xzf', report.archive, '-C', dir]);
    change(dir);
    const out = join(root, `tampered-${n}.tar.gz`);
    writeFileSync(join(root, `list-${n}`), `${list.join('\n')}\n`);
    tar(['-czf', out, '-C', dir, '--no-recursion', '-T', join(root, `list-${n}`)]);
    copyFileSync(`${report.archive}.sha256`, `${out}.sha256`);
    return out;
  }
  const kinds = (r: { differences: { kind: DifferenceKind; path?: string }[] }) =>
    r.differences.map((d) => `${d.kind}${d.path ? ` ${d.path}` : ''}`).sort();

  it('a fresh archive verifies: sidecar, manifest and every member', async () => {
    const v = await verifyArchive(report.archive);
    assert.equal(v.status, 'verified');
    assert.equal(v.sidecar, 'ok');
    assert.deepEqual(v.differences, []);
    assert.equal(v.members, members.length - 1);
    assert.equal(v.manifest?.node, 'conductor-a');
  });

  it('a grown member is refused unread (larger than recorded), and the sidecar', async () => {
    const v = await verifyArchive(tampered((d) => appendFileSync(join(d, RUNNING), ' ')));
    assert.deepEqual(kinds(v), [`member-size ${RUNNING}`, 'sidecar-mismatch']);
    assert.equal(v.differences.find((d) => d.kind === 'member-size')?.code, 'ARCHIVE_TOO_LARGE');
    assert.equal(v.status, 'failed');
  });

  it('a changed member of the same size: its hash, and the sidecar', async () => {
    const v = await verifyArchive(
      tampered((d) => {
        const b = readFileSync(join(d, RUNNING));
        b[10] = b[10]! ^ 0x01;
        writeFileSync(join(d, RUNNING), b);
      }),
    );
    assert.deepEqual(kinds(v), [`member-hash ${RUNNING}`, 'sidecar-mismatch']);
    assert.equal(v.status, 'failed');
  });

  it('a missing member, an extra member and a changed mode', async () => {
    const list = [...members.filter((m) => m !== MINION), 'etc/128technology/intruder'];
    const v = await verifyArchive(
      tampered((d) => {
        writeFileSync(join(d, 'etc/128technology/intruder'), 'x');
        chmodSync(join(d, 'etc/128technology/global.init'), 0o666);
      }, list),
    );
    assert.deepEqual(kinds(v), [
      'member-extra etc/128technology/intruder',
      `member-missing ${MINION}`,
      'member-mode etc/128technology/global.init',
      'sidecar-mismatch',
    ]);
  });

  it('a manifest that is not JSON, or not first', async () => {
    const v1 = await verifyArchive(tampered((d) => writeFileSync(join(d, MANIFEST_NAME), '{"format": broken')));
    assert.ok(kinds(v1).includes(`manifest-invalid ${MANIFEST_NAME}`));
    const v2 = await verifyArchive(tampered(() => undefined, [...members.slice(1), MANIFEST_NAME]));
    assert.ok(kinds(v2).includes(`manifest-not-first ${MANIFEST_NAME}`));
  });

  it('one flipped byte in the compressed data', async () => {
    const bytes = readFileSync(report.archive);
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
    const flipped = join(root, 'flipped.tar.gz');
    writeFileSync(flipped, bytes);
    copyFileSync(`${report.archive}.sha256`, `${flipped}.sha256`);
    const v = await verifyArchive(flipped);
    assert.equal(v.status, 'failed');
    assert.ok(kinds(v).includes('sidecar-mismatch'));
  });

  it('throws ARCHIVE_NOT_FOUND for a path that does not exist', async () => {
    await assert.rejects(verifyArchive(join(root, 'nope.tar.gz')), (e) => hasCode(e, 'ARCHIVE_NOT_FOUND'));
  });
});
