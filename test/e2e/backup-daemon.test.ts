import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyArchive } from '../../conductor-agent/backup/verify.js';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repo, 'conductor-agent/bin.ts');
const fixture = join(repo, 'test/fixtures/daemon-with-service.ts');

interface Proc {
  child: ChildProcess;
  lines: () => Record<string, unknown>[];
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function launch(args: string[]): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SSR_RECOVERY_LOG_LEVEL: 'info' },
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += String(d);
  });
  child.stderr!.on('data', (d) => {
    err += String(d);
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  const lines = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, lines, stderr: () => err, exit };
}

async function until(what: string, cond: () => boolean, p: Proc, ms = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}; stderr:\n${p.stderr()}`);
    if (p.child.exitCode !== null)
      throw new Error(`process exited (${p.child.exitCode}) before ${what}; stderr:\n${p.stderr()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('conductor-agent daemon: forked for real, real signals', function () {
  this.timeout(90_000);
  let root: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir: root, cleanup } = await makeTmpDir('ssr-daemon-'));
    await makeConductorTree(root, { minions: 2, shareMinionKey: true });
  });
  after(async () => cleanup());

  it('runs scheduled backups, then SIGTERM stops it cleanly with exit 0', async () => {
    mkdirSync(join(root, 'etc/ssr-recovery'), { recursive: true });
    // agents.listen on port 0: the production default 0.0.0.0:4507 failed these tests whenever
    // another process held that port (a test never binds a fixed port)
    writeFileSync(
      join(root, 'etc/ssr-recovery/conductor-agent.yaml'),
      "backup:\n  schedule: '* * * * * *'\n  keep: {last: 2, daily: 0, weekly: 0}\n  restoreTest: false\n" +
        "agents:\n  listen: '127.0.0.1:0'\nobserve:\n  listen: '127.0.0.1:0'\n",
    );
    const p = launch([bin, 'daemon', '--json', '--root', root]);
    await until('ready', () => p.lines().some((l) => l.event === 'ready'), p);
    const dir = join(root, 'var/log/128technology');
    const archives = () => readdirSync(dir).filter((n) => n.endsWith('.tar.gz'));
    await until('two scheduled backups', () => archives().length >= 2, p);
    p.child.kill('SIGTERM');
    const { code } = await p.exit;
    assert.equal(code, 0, p.stderr());
    assert.match(p.stderr(), /"msg":"shutting down"/);
    assert.match(p.stderr(), /"msg":"service stopped","service":"backup-schedule"/);
    assert.ok(archives().length <= 3, 'retention ran after scheduled runs (keep last 2, plus at most one in flight)');
    for (const a of archives()) assert.equal((await verifyArchive(join(dir, a))).status, 'verified');
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.endsWith('.tmp')),
      [],
      'no temp left by the stop',
    );
  });

  it('stops extra services before the built-in ones, in reverse start order', async () => {
    const p = launch([fixture, root, '0', '5000']);
    await until('ready', () => p.lines().some((l) => l.event === 'ready'), p);
    p.child.kill('SIGINT');
    assert.equal((await p.exit).code, 0);
    const order = p
      .lines()
      .filter((l) => l.event === 'start' || l.event === 'stopped')
      .map((l) => `${String(l.event)} ${String(l.name)}`);
    assert.deepEqual(order, ['start first', 'start slow', 'stopped slow', 'stopped first']);
  });

  it('a second signal during a slow stop exits at once (130 for SIGINT)', async () => {
    const p = launch([fixture, root, '60000', '60000']);
    await until('ready', () => p.lines().some((l) => l.event === 'ready'), p);
    p.child.kill('SIGTERM');
    await until('the slow stop to begin', () => p.lines().some((l) => l.event === 'stopping' && l.name === 'slow'), p);
    p.child.kill('SIGINT');
    const { code } = await p.exit;
    assert.equal(code, 130);
    assert.ok(!p.lines().some((l) => l.event === 'stopped' && l.name === 'slow'));
  });

  it('exits with 1 when the stop deadline passes', async () => {
    const p = launch([fixture, root, '60000', '300']);
    await until('ready', () => p.lines().some((l) => l.event === 'ready'), p);
    p.child.kill('SIGTERM');
    const { code } = await p.exit;
    assert.equal(code, 1);
    assert.match(p.stderr(), /shutdown deadline passed/);
  });
});
