import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes } from '../../shared/errors.js';
import { ExitCode } from '../../shared/exit-codes.js';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import { archiveWithManifest, gz, rawEntriesFor, sha256, type FileSpec } from '../fixtures/make-tar.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { BASE_FILES, snapshot, snapshotDiff } from '../integration/restore-support.js';

const bin = fileURLToPath(new URL('../../conductor-agent/bin.ts', import.meta.url));

function cli(root: string, args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', bin, ...args, '--root', root, '--json'], {
    encoding: 'utf8',
    env: { ...process.env, SSR_RECOVERY_LOG_LEVEL: 'silent' },
  });
}

/** Issue 9 §D: inputs that crashed (unhandled error event, exit 70) get a stable code, their exit and one JSON document. */
describe('archive inputs that crashed: stable code, documented exit, --json, nothing changed', function () {
  this.timeout(120_000);
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let root: string;
  let base: FileSpec[];
  let initial: Map<string, string>;

  before(async () => {
    tmp = await makeTmpDir('archive-crash-');
    root = join(tmp.dir, 'root');
    await makeConductorTree(root, { routers: 1, minions: 1 });
    mkdirSync(join(root, 'etc/ssr-recovery'), { recursive: true });
    writeFileSync(
      join(root, 'etc/ssr-recovery/conductor-agent.yaml'),
      [
        'restore:',
        '  postVerifyTimeoutMs: 0',
        'services:',
        "  '128T':",
        "    start: 'true'",
        "    stop: 'true'",
        "    isActive: 'false'",
        '',
      ].join('\n'),
    );
    base = BASE_FILES.map((p) => ({
      path: p,
      body: readFileSync(join(root, p)),
      mode: statSync(join(root, p)).mode & 0o777,
    }));
    initial = snapshot(root);
  });
  after(() => tmp.cleanup());

  const archive = (name: string, bytes: Buffer, sidecar: 'file' | 'dir' | 'none' = 'file'): string => {
    const p = join(tmp.dir, name);
    writeFileSync(p, bytes);
    if (sidecar === 'dir') mkdirSync(`${p}.sha256`);
    if (sidecar === 'file') writeFileSync(`${p}.sha256`, `${sha256(bytes)}  ${name}\n`);
    return p;
  };

  const cases: { name: string; make: () => { file: string; extra?: string[] }; restore: string; verify: string }[] = [
    {
      name: 'an empty gzip',
      make: () => ({ file: archive('empty.tar.gz', gz(Buffer.alloc(0))) }),
      restore: 'ARCHIVE_CORRUPT',
      verify: 'ARCHIVE_CORRUPT',
    },
    {
      name: 'a gzip without tar',
      make: () => ({ file: archive('text.tar.gz', gz(Buffer.from('not a tar\n'.repeat(99)))) }),
      restore: 'ARCHIVE_CORRUPT',
      verify: 'ARCHIVE_CORRUPT',
    },
    {
      name: 'master.pem as a folder',
      make: () => ({
        file: archive(
          'pem-dir.tar.gz',
          archiveWithManifest(
            rawEntriesFor(base.map((f) => (f.path.endsWith('/master.pem') ? { ...f, type: 'dir' as const } : f))),
            null,
          ),
        ),
      }),
      restore: 'ARCHIVE_UNSAFE_MEMBER',
      verify: 'ARCHIVE_UNSAFE_MEMBER',
    },
    {
      name: 'a .sha256 sidecar that is a folder',
      make: () => ({ file: archive('side-dir.tar.gz', archiveWithManifest(rawEntriesFor(base), null), 'dir') }),
      restore: 'ARCHIVE_HASH_MISMATCH',
      verify: 'ARCHIVE_HASH_MISMATCH',
    },
    {
      name: 'a malformed age identity',
      make: () => {
        const id = join(tmp.dir, 'bad-identity.txt');
        writeFileSync(id, 'AGE-SECRET-KEY-1NOTAKEY\n', { mode: 0o600 });
        return {
          file: archive('enc.tar.gz.age', Buffer.from('age-encryption.org/v1\n-> X25519 abc\n')),
          extra: ['--identity', id],
        };
      },
      restore: 'BACKUP_ENCRYPTION_FAILED',
      verify: 'BACKUP_ENCRYPTION_FAILED',
    },
  ];

  for (const c of cases) {
    it(`${c.name}: restore --json and backup verify --json`, () => {
      const { file, extra = [] } = c.make();
      const r = cli(root, ['restore', file, '--yes', ...extra]);
      assert.doesNotMatch(r.stderr, /\n\s+at /, `a stack trace: ${r.stderr}`);
      const doc = JSON.parse(r.stdout) as { ok: boolean; error: { code: string } };
      assert.equal(doc.ok, false);
      assert.equal(doc.error.code, c.restore, r.stdout);
      assert.equal(r.status, ErrorCodes[c.restore as keyof typeof ErrorCodes].exit);
      const v = cli(root, ['backup', 'verify', file, ...extra]);
      assert.doesNotMatch(v.stderr, /\n\s+at /, `a stack trace: ${v.stderr}`);
      const rep = JSON.parse(v.stdout) as { ok: boolean; differences: { code: string }[] };
      assert.equal(rep.ok, false);
      assert.ok(
        rep.differences.some((d) => d.code === c.verify),
        v.stdout,
      );
      assert.equal(v.status, ExitCode.VERIFY_FAILED);
      assert.doesNotMatch(r.stdout + r.stderr + v.stdout + v.stderr, /NOTAKEY/, 'an identity line is never echoed');
      assert.deepEqual(snapshotDiff(initial, snapshot(root)), []);
    });
  }
});
