import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../../shared/config/load.js';
import { routerSchema } from '../../../shared/config/schema.js';
import { fastRouterConfig, loadRouterConfig } from '../../../router-agent/config.js';
import { ROUTER_SECTIONS } from '../../../shared/config/router-keys.js';
import { validateRouterConfig } from '../../../shared/config/validate.js';
import { makeTmpDir } from '../../helpers/tmpdir.js';

// The canonical loader is imported lazily, so under the test loader its error class may be a second
// instance of RecoveryError: assert the stable code, not the class.
const hasCode = (e: unknown, code: string): boolean => (e as { code?: unknown }).code === code;

describe('router-agent/config (zod-free fast path, same result as the canonical loader)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await makeTmpDir()));
  afterEach(() => cleanup());

  const write = async (text: string) => {
    await mkdir(join(dir, 'etc/ssr-recovery'), { recursive: true });
    await writeFile(join(dir, 'etc/ssr-recovery/router-agent.yaml'), text);
  };

  it('routerSchema carries exactly the sections and keys of the one router key definition', () => {
    const shape = routerSchema.shape as Record<string, unknown>;
    assert.deepEqual(Object.keys(shape).sort(), [...Object.keys(ROUTER_SECTIONS), 'services'].sort());
    for (const [section, fields] of Object.entries(ROUTER_SECTIONS)) {
      const inner = shape[section] as { _zod: { def: { innerType: { shape: Record<string, unknown> } } } };
      assert.deepEqual(Object.keys(inner._zod.def.innerType.shape).sort(), Object.keys(fields).sort(), section);
    }
  });

  it('accepts and refuses every value exactly as the canonical schema does, key by key', () => {
    const probes: unknown[] = [
      'x',
      '',
      'relative',
      '/abs',
      0,
      1,
      -1,
      1.5,
      4507,
      [],
      ['a'],
      [''],
      ['a', 3],
      'debug',
      'loud',
      null,
      {},
      true,
    ];
    for (const [section, fields] of Object.entries(ROUTER_SECTIONS)) {
      for (const key of Object.keys(fields)) {
        for (const v of probes) {
          const doc = { [section]: { [key]: v } };
          const fast = fastRouterConfig(doc);
          const canonical = validateRouterConfig(doc);
          // null means "unset" to neither: both must refuse it, or the fast path defers.
          if (fast) assert.deepEqual(fast, canonical.config, `${section}.${key} = ${JSON.stringify(v)}`);
          else
            assert.ok(
              !canonical.config || v === null,
              `${section}.${key} = ${JSON.stringify(v)}: fast path refused what the schema accepts`,
            );
        }
      }
    }
  });

  const samples: unknown[] = [
    {},
    {
      minion: { id: 'r1', service: 'salt-minion' },
      conductor: {
        addresses: ['10.0.0.1', '10.0.0.2:4600'],
        agentPublicKey: '/etc/k.pem',
        certFingerprint: 'AB:CD',
        port: 4600,
      },
    },
    {
      agent: {
        stateDir: '/var/lib/x',
        saltCall: 'salt-call --local',
        reauthTimeoutMs: 5,
        settleMs: 0,
        pollMs: 10,
        heartbeatMs: 100,
      },
      log: { level: 'debug' },
    },
    { services: { minion: { start: 'a', stop: 'b', restart: 'c', isActive: 'd' } } },
  ];

  it('builds exactly what the canonical loader builds for valid JSON configs', async () => {
    for (const s of samples) {
      await write(JSON.stringify(s));
      const fast = await loadRouterConfig({ root: dir, env: {} });
      const slow = loadConfig({ agent: 'router-agent', root: dir, env: {} });
      assert.deepEqual(fast.config, slow.config, JSON.stringify(s));
      assert.equal(fast.file, slow.file);
    }
  });

  it('defers to the canonical loader for YAML, unknown keys, invalid values and environment overrides', async () => {
    for (const bad of [
      { minion: { configDir: 'relative' } },
      { minion: { nope: 1 } },
      { nope: {} },
      { agent: { pollMs: 0 } },
      { services: { minion: { reload: 'x' } } },
    ]) {
      assert.equal(fastRouterConfig(bad), undefined, JSON.stringify(bad));
      await write(JSON.stringify(bad));
      await assert.rejects(loadRouterConfig({ root: dir, env: {} }), (e) => hasCode(e, 'CONFIG_INVALID'));
    }
    await write('minion:\n  id: yaml-router\n');
    assert.equal((await loadRouterConfig({ root: dir, env: {} })).config.minion.id, 'yaml-router');
    await write('{}');
    assert.equal(
      (await loadRouterConfig({ root: dir, env: { SSR_RECOVERY_MINION_ID: 'from-env' } })).config.minion.id,
      'from-env',
    );
    await assert.rejects(loadRouterConfig({ root: dir, env: {}, configFile: join(dir, 'missing.yaml') }), (e) =>
      hasCode(e, 'CONFIG_UNREADABLE'),
    );
  });

  it('uses the defaults when there is no config file', async () => {
    const fast = await loadRouterConfig({ root: dir, env: {} });
    assert.deepEqual(fast.config, loadConfig({ agent: 'router-agent', root: dir, env: {} }).config);
    assert.equal(fast.path('/etc/salt'), join(dir, 'etc/salt'));
  });
});
