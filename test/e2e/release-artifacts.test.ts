// What ships (issue 10, 11): `npm pack` carries no test code; `npm run release`'s router artifact
// carries nothing of the conductor or its sandbox; both artifacts run with a plain node and no
// node_modules (unpacked into a folder with none above it), as the Salt formula installs them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PRODUCT_VERSION } from '../../shared/version.js';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import { startSshd } from '../helpers/sshd.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const run = (cmd: string, args: string[], cwd = repo) => {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, SSR_RECOVERY_LOG_LEVEL: undefined } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

/** Source files a bundle was built from, from its linked source maps (paths relative to the repo). */
async function bundleSources(dir: string, members: string[]): Promise<string[]> {
  const maps = members.filter((m) => m.endsWith('.map'));
  const out: string[] = [];
  for (const m of maps) {
    const map = JSON.parse(await readFile(join(dir, m), 'utf8')) as { sources: string[] };
    out.push(...map.sources.map((s) => s.replace(/^(\.\.\/)+/, '')));
  }
  return out;
}

describe('e2e: release artifacts (npm pack, npm run release)', function () {
  this.timeout(120_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await makeTmpDir());
    const r = run(process.execPath, ['scripts/release.mjs', '--out', join(dir, 'release')]);
    assert.equal(r.status, 0, r.stderr);
    for (const side of ['router', 'conductor']) {
      await mkdir(join(dir, side));
      const tgz = join(dir, `release/salt/ssr_recovery/files/ssr-recovery-${side}.tgz`);
      const x = run('tar', ['-xzf', tgz, '-C', join(dir, side)]);
      assert.equal(x.status, 0, x.stderr);
    }
  });
  after(() => cleanup());

  it('npm pack carries the bundles, the formula and docs, and no test code or TypeScript sources', async () => {
    const r = run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts']);
    assert.equal(r.status, 0, r.stderr);
    const files = (JSON.parse(r.stdout) as [{ files: { path: string }[] }])[0].files.map((f) => f.path);
    const pkg = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    for (const bin of Object.values(pkg.bin)) assert.ok(files.includes(bin), `bin ${bin} is packed`);
    assert.ok(files.includes('salt-states/ssr_recovery/init.sls'));
    const testy = files.filter((f) => /(^|\/)(test|fixtures)\//.test(f) || /\.test\.|(?<!\.d)\.ts$/.test(f));
    assert.deepEqual(testy, []);
  });

  it('the router artifact holds only the router agent: no conductor, sandbox or test code', async () => {
    const tgz = join(dir, 'release/salt/ssr_recovery/files/ssr-recovery-router.tgz');
    const list = run('tar', ['-tzf', tgz]);
    assert.equal(list.status, 0, list.stderr);
    const members = list.stdout.trim().split('\n');
    const routerOnly = /^package\/(package\.json|dist\/router-agent\/router-agent[\w.-]*)$/;
    assert.deepEqual(
      members.filter((m) => !routerOnly.test(m)),
      [],
    );
    const unpacked = join(dir, 'router');
    const sources = await bundleSources(unpacked, members);
    assert.ok(
      sources.some((s) => s.startsWith('router-agent/')),
      'the source map lists the agent',
    );
    assert.deepEqual(
      sources.filter((s) => /^(sandbox|test|conductor-agent)\//.test(s)),
      [],
    );
    for (const m of members.filter((f) => f.endsWith('.cjs'))) {
      assert.doesNotMatch(await readFile(join(unpacked, m), 'utf8'), /saltapi-emulator|SaltMasterSim|ssr-simulator/, m);
    }
  });

  it('the conductor artifact carries the sandbox for the drill but no test code', async () => {
    const tgz = join(dir, 'release/salt/ssr_recovery/files/ssr-recovery-conductor.tgz');
    const members = run('tar', ['-tzf', tgz]).stdout.trim().split('\n');
    assert.ok(members.includes('package/dist/conductor-agent/bundle/minion-main.js'));
    const unpacked = join(dir, 'conductor');
    const sources = await bundleSources(unpacked, members);
    assert.ok(sources.some((s) => s.startsWith('sandbox/')));
    assert.deepEqual(
      sources.filter((s) => s.startsWith('test/')),
      [],
    );
  });

  it('both run from the unpacked artifact with a plain node and no node_modules', async () => {
    const c = join(dir, 'conductor/package/dist/conductor-agent/bundle/conductor-agent.js');
    const v = run(process.execPath, [c, '--version'], dir);
    assert.equal(v.stdout.trim(), PRODUCT_VERSION, v.stderr);
    const h = run(process.execPath, [c, 'backup', '--help'], dir);
    assert.equal(h.status, 0, h.stderr);
    // The router agent's YAML path: the canonical loader (zod + yaml) comes from the file beside it.
    const root = join(dir, 'router-root');
    await mkdir(join(root, 'etc/ssr-recovery'), { recursive: true });
    const yaml = 'minion:\n  id: yaml-router\nlog:\n  level: error\n';
    await writeFile(join(root, 'etc/ssr-recovery/router-agent.yaml'), yaml);
    const r = join(dir, 'router/package/dist/router-agent/router-agent.cjs');
    const s = run(process.execPath, [r, 'status', '--json', '--root', root], dir);
    assert.equal(s.status, 0, s.stderr);
    assert.equal((JSON.parse(s.stdout) as { trust: { minionId: string } }).trust.minionId, 'yaml-router');
    await writeFile(join(root, 'etc/ssr-recovery/router-agent.yaml'), 'agent:\n  pollMs: -1\n');
    const bad = run(process.execPath, [r, 'status', '--json', '--root', root], dir);
    assert.equal(bad.status, 3, bad.stderr);
    assert.doesNotMatch(bad.stderr, /Cannot find package|\n\s+at /);
  });

  // Regression: ssh2's agent.js reads __dirname when loaded, which an ESM bundle lacks, so every
  // SSH use of the bundled conductor-agent (off-box copy, SSH fallback) died with exit 70.
  it('the bundled conductor-agent copies a backup off the box over real OpenSSH (ssh2 from the bundle)', async () => {
    const sshd = await startSshd();
    try {
      const root = join(dir, 'offbox-root');
      await makeConductorTree(root, { minions: 1, shareMinionKey: true });
      await mkdir(join(root, 'etc/ssr-recovery'), { recursive: true, mode: 0o700 });
      await copyFile(sshd.clientKeyFile, join(root, 'etc/ssr-recovery/offbox_ed25519'));
      await writeFile(
        join(root, 'etc/ssr-recovery/conductor-agent.yaml'),
        JSON.stringify({
          backup: {
            offbox: {
              host: sshd.host,
              port: sshd.port,
              username: sshd.username,
              privateKeyFile: '/etc/ssr-recovery/offbox_ed25519',
              hostKeyFingerprint: sshd.hostKeyFingerprint,
              dir: join(sshd.dir, 'remote'),
            },
          },
          log: { level: 'error' },
        }),
      );
      await mkdir(join(sshd.dir, 'remote'), { recursive: true });
      const c = join(dir, 'conductor/package/dist/conductor-agent/bundle/conductor-agent.js');
      const r = run(process.execPath, [c, 'backup', 'create', '--json', '--root', root], dir);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.equal((JSON.parse(r.stdout) as { offbox?: { ok: boolean } }).offbox?.ok, true, r.stdout);
    } finally {
      await sshd.stop();
    }
  });
});
