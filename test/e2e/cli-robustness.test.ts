/**
 * Regression tests named after their causes (issue 9 D, "smaller ones" and "usage errors under
 * --json"), through the compiled bins as users run them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTmpDir } from '../helpers/tmpdir.js';

const bin = (name: string): string => fileURLToPath(new URL(`../../dist/${name}/bin.js`, import.meta.url));
const run = (name: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [bin(name), ...args], {
    encoding: 'utf8',
    env: { ...process.env, SSR_RECOVERY_LOG_LEVEL: undefined, ...env },
  });

describe('CLI robustness: usage errors, config sources, missing folders', function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await makeTmpDir('cli-robust-')));
  after(() => cleanup());

  const usageCases: [string, string[], RegExp][] = [
    ['conductor-agent', ['backup', 'list', '--json', '--no-such-option'], /unknown option '--no-such-option'/],
    ['conductor-agent', ['--json', 'backup', 'verify'], /missing required argument 'archive'/],
    ['conductor-agent', ['--json', 'backup', 'prune', '--keep-last'], /argument missing/],
    ['router-agent', ['status', '--json', '--bogus'], /unknown option '--bogus'/],
    ['router-agent', ['--json', 'no-such-command'], /unknown command/],
  ];
  for (const [name, args, message] of usageCases) {
    it(`usage-error-without-json-document: ${name} ${args.join(' ')} prints one USAGE error document on stdout, exit 2`, () => {
      const r = run(name, args);
      assert.equal(r.status, 2, r.stderr);
      const doc = JSON.parse(r.stdout);
      assert.equal(doc.ok, false);
      assert.equal(doc.error.code, 'USAGE');
      assert.match(doc.error.message, message);
      assert.match(r.stderr, /error: /, 'the human message stays on stderr');
      assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /, 'no stack trace');
    });
  }

  it('usage errors without --json print no JSON (stdout stays empty)', () => {
    const r = run('conductor-agent', ['backup', 'list', '--no-such-option']);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
  });

  it('list-nonexistent-root-looks-empty: backup list --root /nonexistent refuses with BACKUP_DIR_NOT_FOUND, exit 1', () => {
    const r = run('conductor-agent', ['backup', 'list', '--json', '--root', join(dir, 'no-such-root')]);
    assert.equal(r.status, 1, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.error.code, 'BACKUP_DIR_NOT_FOUND');
    assert.equal(doc.error.details.dir, join(dir, 'no-such-root/var/log/128technology'));
    const empty = join(dir, 'empty');
    mkdirSync(join(empty, 'var/log/128technology'), { recursive: true });
    const ok = run('conductor-agent', ['backup', 'list', '--json', '--root', empty]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout).backups, [], 'an existing empty folder is "no backups"');
  });

  it('env-value-blamed-on-yaml: a bad SSR_RECOVERY_* value names the variable (exit 3, CONFIG_INVALID)', () => {
    const root = join(dir, 'env');
    mkdirSync(join(root, 'etc/ssr-recovery'), { recursive: true });
    writeFileSync(join(root, 'etc/ssr-recovery/conductor-agent.yaml'), 'log:\n  level: info\n');
    const r = run('conductor-agent', ['backup', 'list', '--json', '--root', root], {
      SSR_RECOVERY_BACKUP_KEEP_LAST: '-3',
    });
    assert.equal(r.status, 3, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.error.code, 'CONFIG_INVALID');
    assert.match(doc.error.message, /backup\.keep\.last: .*\(from SSR_RECOVERY_BACKUP_KEEP_LAST\)/);
    assert.doesNotMatch(doc.error.message, /conductor-agent\.yaml/);
  });

  it('world-readable-password-file-accepted-silently: a 0644 passwordFile warns on stderr, the command still runs', () => {
    const root = join(dir, 'pw');
    mkdirSync(join(root, 'etc/ssr-recovery'), { recursive: true });
    mkdirSync(join(root, 'var/log/128technology'), { recursive: true });
    writeFileSync(join(root, 'etc/ssr-recovery/ssr.secret'), 's3cret\n');
    chmodSync(join(root, 'etc/ssr-recovery/ssr.secret'), 0o644);
    writeFileSync(
      join(root, 'etc/ssr-recovery/conductor-agent.yaml'),
      'ssr:\n  username: ops\n  passwordFile: /etc/ssr-recovery/ssr.secret\n',
    );
    const r = run('conductor-agent', ['backup', 'list', '--json', '--root', root]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).ok, true);
    assert.match(r.stderr, /ssr\.passwordFile \/etc\/ssr-recovery\/ssr\.secret is accessible by others \(mode 0644\)/);
    assert.match(r.stderr, /chmod 600/);
    assert.doesNotMatch(r.stderr, /s3cret/);
  });
});
