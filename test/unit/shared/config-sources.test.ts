/**
 * Regression tests named after their causes (issue 9 D, "smaller ones"): where a bad value came
 * from, and secret files that others can read.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../../shared/config/load.js';
import { RecoveryError } from '../../../shared/errors.js';
import { makeTmpDir } from '../../helpers/tmpdir.js';

function configError(f: () => unknown): RecoveryError {
  try {
    f();
  } catch (e) {
    if (e instanceof RecoveryError) return e;
    throw e;
  }
  assert.fail('expected a config error');
}

describe('shared/config: where a value came from, and loose secret files', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const yaml = (text: string) => writeFile(join(dir, 'etc/ssr-recovery/conductor-agent.yaml'), text);
  beforeEach(async () => {
    ({ dir, cleanup } = await makeTmpDir());
    await mkdir(join(dir, 'etc/ssr-recovery'), { recursive: true });
  });
  afterEach(() => cleanup());

  it('env-value-blamed-on-yaml: a bad SSR_RECOVERY_* value names the variable, not the YAML file', async () => {
    await yaml('backup:\n  keep:\n    last: 3\n');
    const e = configError(() =>
      loadConfig({ agent: 'conductor-agent', root: dir, env: { SSR_RECOVERY_BACKUP_DIR: 'relative/dir' } }),
    );
    assert.equal(e.code, 'CONFIG_INVALID');
    assert.match(e.message, /backup\.dir: .*\(from SSR_RECOVERY_BACKUP_DIR\)/);
    assert.doesNotMatch(e.message, /conductor-agent\.yaml/, 'the file holds no bad value');
    assert.deepEqual(e.details.variables, ['SSR_RECOVERY_BACKUP_DIR']);
  });

  it('env-value-blamed-on-yaml: a list variable with a bad element names the variable', () => {
    const e = configError(() =>
      loadConfig({ agent: 'conductor-agent', root: dir, env: { SSR_RECOVERY_BACKUP_EXTRA_PATHS: '/ok,not-absolute' } }),
    );
    assert.match(e.message, /backup\.extraPaths\.1: .*\(from SSR_RECOVERY_BACKUP_EXTRA_PATHS\)/);
  });

  it('env-value-blamed-on-yaml: errors in the file and in the environment each name their source', async () => {
    await yaml('backup:\n  dir: also-relative\n');
    const e = configError(() =>
      loadConfig({ agent: 'conductor-agent', root: dir, env: { SSR_RECOVERY_SALT_PKI_DIR: 'x' } }),
    );
    assert.match(e.message, /in .*conductor-agent\.yaml and from the environment or flags/);
    assert.match(e.message, /salt\.pkiDir: .*\(from SSR_RECOVERY_SALT_PKI_DIR\)/);
    assert.match(e.message, /backup\.dir: must be an absolute path\n|backup\.dir: must be an absolute path$/m);
    assert.doesNotMatch(e.message, /backup\.dir: [^\n]*\(from/);
  });

  it('env-value-blamed-on-yaml: a bad flag value is blamed on a flag', () => {
    const e = configError(() =>
      loadConfig({ agent: 'conductor-agent', root: dir, overrides: { 'saltApi.url': 'not a url' } }),
    );
    assert.match(e.message, /saltApi\.url: .*\(from a flag\)/);
  });

  it('world-readable-password-file-accepted-silently: a 0644 passwordFile loads with a warning naming key, path and fix', async () => {
    await mkdir(join(dir, 'etc/ssr-recovery/secrets'), { recursive: true });
    const secret = join(dir, 'etc/ssr-recovery/secrets/salt-api');
    await writeFile(secret, 'hunter2\n');
    await chmod(secret, 0o644);
    await yaml('saltApi:\n  username: ops\n  passwordFile: /etc/ssr-recovery/secrets/salt-api\n');
    const loaded = loadConfig({ agent: 'conductor-agent', root: dir, env: {} });
    const w = loaded.warnings.filter((x) => x.startsWith('saltApi.passwordFile'));
    assert.equal(w.length, 1, loaded.warnings.join('\n'));
    assert.match(w[0]!, /accessible by others \(mode 0644\).*chmod 600 \/etc\/ssr-recovery\/secrets\/salt-api/);
    assert.doesNotMatch(w.join(''), /hunter2/);
  });

  it('world-readable-password-file-accepted-silently: group-readable (0640) warns too; 0600 and 0400 do not', async () => {
    const secret = join(dir, 'pw');
    await writeFile(secret, 'x');
    const load = () =>
      loadConfig({ agent: 'conductor-agent', root: dir, env: { SSR_RECOVERY_SSR_PASSWORD_FILE: '/pw' } }).warnings;
    await chmod(secret, 0o640);
    assert.match(load().join('\n'), /ssr\.passwordFile \/pw is accessible by its group \(mode 0640\)/);
    await chmod(secret, 0o600);
    assert.deepEqual(load(), []);
    await chmod(secret, 0o400);
    assert.deepEqual(load(), []);
  });
});
