import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig, envNameFor } from '../../../shared/config/load.js';
import { validateConductorConfig } from '../../../shared/config/validate.js';
import { underRoot } from '../../../shared/config/schema.js';
import { hasCode } from '../../../shared/errors.js';
import { makeTmpDir } from '../../helpers/tmpdir.js';

describe('shared/config', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await makeTmpDir()));
  afterEach(() => cleanup());

  it('names environment variables in upper snake case', () => {
    assert.equal(envNameFor('saltApi.passwordFile'), 'SSR_RECOVERY_SALT_API_PASSWORD_FILE');
    assert.equal(envNameFor('backup.keep.last'), 'SSR_RECOVERY_BACKUP_KEEP_LAST');
  });

  it('applies defaults, then the file under the root, then env, then flags', async () => {
    await mkdir(join(dir, 'etc/ssr-recovery'), { recursive: true });
    await writeFile(
      join(dir, 'etc/ssr-recovery/conductor-agent.yaml'),
      'saltApi:\n  eauth: sharedsecret\n  url: http://127.0.0.1:9000\nbackup:\n  keep:\n    last: 3\n',
    );
    const loaded = loadConfig({
      agent: 'conductor-agent',
      root: dir,
      env: { SSR_RECOVERY_BACKUP_KEEP_LAST: '5', SSR_RECOVERY_BACKUP_EXTRA_PATHS: '/opt/a, /opt/b' },
      overrides: { 'saltApi.url': 'http://127.0.0.2:8000' },
    });
    assert.equal(loaded.config.saltApi.eauth, 'sharedsecret');
    assert.equal(loaded.config.saltApi.url, 'http://127.0.0.2:8000');
    assert.equal(loaded.config.backup.keep.last, 5);
    assert.equal(loaded.config.backup.keep.daily, 7);
    assert.deepEqual(loaded.config.backup.extraPaths, ['/opt/a', '/opt/b']);
    assert.equal(loaded.config.salt.pkiDir, '/etc/128technology/salt/pki/master');
    assert.equal(loaded.path(loaded.config.salt.pkiDir), join(dir, 'etc/128technology/salt/pki/master'));
  });

  it('lists every problem and refuses unknown keys', () => {
    const r = validateConductorConfig({
      saltApi: { url: 'http://10.0.0.5:8000', bogus: 1 },
      backup: { keep: { last: -1 } },
    });
    assert.equal(r.config, undefined);
    assert.ok(r.errors.some((e) => e.includes('bogus')));
    assert.ok(r.errors.some((e) => e.startsWith('backup.keep.last')));
  });

  it('refuses plain http to a non-loopback salt-api', () => {
    const r = validateConductorConfig({ saltApi: { url: 'http://10.0.0.5:8000' } });
    assert.ok(r.errors.some((e) => /plain http/.test(e)));
    assert.ok(validateConductorConfig({ saltApi: { url: 'https://10.0.0.5:8000' } }).config);
  });

  it('throws CONFIG_UNREADABLE for bad YAML and a missing explicit file', async () => {
    const f = join(dir, 'bad.yaml');
    await writeFile(f, 'saltApi: [unclosed');
    assert.throws(
      () => loadConfig({ agent: 'conductor-agent', configFile: f, env: {} }),
      (e) => hasCode(e, 'CONFIG_UNREADABLE'),
    );
    assert.throws(
      () => loadConfig({ agent: 'router-agent', configFile: join(dir, 'nope.yaml'), env: {} }),
      (e) => hasCode(e, 'CONFIG_UNREADABLE'),
    );
  });

  it('throws CONFIG_INVALID for a bad number in the environment', () => {
    assert.throws(
      () => loadConfig({ agent: 'router-agent', root: dir, env: { SSR_RECOVERY_CONDUCTOR_PORT: 'abc' } }),
      (e) => hasCode(e, 'CONFIG_INVALID'),
    );
  });

  it('prefixes system paths with the root, and leaves them alone for /', () => {
    assert.equal(underRoot('/', '/etc/salt'), '/etc/salt');
    assert.equal(underRoot('/tmp/r/', '/etc/salt'), '/tmp/r/etc/salt');
  });
});

describe('docs/configuration.md', () => {
  it('is generated from the schema (run `npm run docs:config` after changing it)', async () => {
    const { readFileSync } = await import('node:fs');
    const { renderConfigDoc } = await import('../../../scripts/gen-config-doc.js');
    assert.equal(readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8'), renderConfigDoc());
  });
});
