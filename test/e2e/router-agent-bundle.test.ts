// The one-file router-agent bundle the systemd unit runs (dist/router-agent/router-agent.cjs, built by
// `npm run build`): same answers as the tsc tree, the canonical (zod + YAML) config loader reached
// from the bundle, and a daemon that stays up when its agent channel is disabled.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PRODUCT_VERSION } from '../../shared/version.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { makeRouterTree, rsaPublicPem } from '../unit/router-agent/fake-minion.js';

const bundle = fileURLToPath(new URL('../../dist/router-agent/router-agent.cjs', import.meta.url));
const env = { ...process.env, SSR_RECOVERY_LOG_LEVEL: undefined };
const run = (args: string[]) => spawnSync(process.execPath, [bundle, ...args], { encoding: 'utf8', env });

describe('e2e: the router-agent bundle (as the systemd unit runs it)', function () {
  this.timeout(30_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ dir, cleanup } = await makeTmpDir());
    await makeRouterTree(dir, rsaPublicPem());
    await mkdir(join(dir, 'etc/ssr-recovery'), { recursive: true });
  });
  afterEach(() => cleanup());

  it('answers --version and --help, and exits 2 on an unknown option', () => {
    const v = run(['--version']);
    assert.equal(v.status, 0);
    assert.equal(v.stdout.trim(), PRODUCT_VERSION);
    const h = run(['--help']);
    assert.equal(h.status, 0);
    assert.match(h.stdout, /daemon/);
    assert.equal(run(['--no-such-option']).status, 2);
  });

  it('reads a YAML config through the canonical loader (kept out of the bundle) and reports its CONFIG_* errors with exit 3', async () => {
    const file = join(dir, 'etc/ssr-recovery/router-agent.yaml');
    await writeFile(
      file,
      'services:\n  minion: {start: "true", stop: "true", restart: "true", isActive: "false"}\nlog:\n  level: warn\n',
    );
    const ok = run(['status', '--json', '--root', dir]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { trust: { minionId: string } }).trust.minionId, 'router-1');
    await writeFile(file, 'agent:\n  pollMs: -5\n');
    const bad = run(['status', '--json', '--root', dir]);
    assert.equal(bad.status, 3, bad.stderr);
    assert.match((JSON.parse(bad.stdout) as { error: { code: string } }).error.code, /^CONFIG_/);
  });

  // Regression: with the channel disabled nothing held the event loop (no link, trust poll timer
  // unref'd), so the daemon printed its ready line and exited 0, and systemd restarted it in a loop.
  it('daemon with the agent channel disabled stays up until SIGTERM, then exits 0', async () => {
    await writeFile(
      join(dir, 'etc/ssr-recovery/router-agent.yaml'),
      JSON.stringify({
        services: { minion: { start: 'true', stop: 'true', restart: 'true', isActive: 'false' } },
        agent: { pollMs: 20 },
        observe: { listen: 'off' },
        log: { level: 'error' },
      }),
    );
    const child = spawn(process.execPath, [bundle, 'daemon', '--json', '--root', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('"ready":true')) resolve();
      });
      void exited.then((code) => reject(new Error(`exited ${code} before ready`)));
    });
    assert.match(JSON.parse(out.trim()).channel as string, /agentPublicKey/);
    // Several trust polls later it must still be running.
    const early = await Promise.race([
      exited.then((code) => `exited ${code}`),
      new Promise<string>((r) => setTimeout(() => r('running'), 500)),
    ]);
    assert.equal(early, 'running');
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});
