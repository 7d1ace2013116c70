// The daemon's observation endpoint over real HTTP on loopback: Prometheus text that promtool
// accepts, health, the read-only status page; the alert rules checked and unit-tested by promtool;
// the dashboard and the rules naming only metrics the agents really expose.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { builtinServices } from '../../conductor-agent/daemon/main.js';
import { createBackup } from '../../conductor-agent/backup/run.js';
import { readRestoreTests } from '../../conductor-agent/backup/restore-test.js';
import type { ObserveService } from '../../conductor-agent/observe/server.js';
import { loadConfig } from '../../shared/config/load.js';
import { nullLogger } from '../../shared/log/logger.js';
import { observeSink } from '../../shared/observe/sink.js';
import { startRouterObserve, type ObservedAgent } from '../../router-agent/observe.js';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import type { Service } from '../../conductor-agent/daemon/lifecycle.js';
import { makeTmpDir } from '../helpers/tmpdir.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const rulesDir = join(repo, 'observability/prometheus');

function promtool(args: string[], input?: string): { code: number | null; out: string } {
  const r = spawnSync('promtool', args, { cwd: rulesDir, input, encoding: 'utf8' });
  if (r.error)
    throw new Error(`promtool is needed (Debian package prometheus; npm test's setup installs it): ${r.error.message}`);
  return { code: r.status, out: r.stdout + r.stderr };
}

function fakeAgent(): ObservedAgent & EventEmitter {
  return Object.assign(new EventEmitter(), {
    minionId: 'router-7',
    trust: () =>
      ({
        state: 'stale-master-key' as const,
        minionId: 'router-7',
        minionActive: true,
        evidence: [],
        since: 0,
      }) as never,
    links: () => [
      { url: 'wss://127.0.0.2:1', ready: true },
      { url: 'wss://127.0.0.3:1', ready: false },
    ],
  });
}

describe('observability: metrics, health and the status page', function () {
  this.timeout(60_000);
  let root: string;
  let cleanup: () => Promise<void>;
  let services: Service[] = [];
  let url: string;

  before(async () => {
    ({ dir: root, cleanup } = await makeTmpDir('ssr-observe-'));
    await makeConductorTree(root, { minions: 2, shareMinionKey: true });
    await mkdir(join(root, 'etc/ssr-recovery'), { recursive: true });
    await writeFile(
      join(root, 'etc/ssr-recovery/conductor-agent.yaml'),
      stringify({
        agents: { listen: '127.0.0.2:0' },
        observe: { listen: '127.0.0.1:0', refreshSeconds: 3 },
      }),
    );
    const loaded = loadConfig({ agent: 'conductor-agent', root, env: {} });
    await createBackup({ config: loaded.config, root, logger: nullLogger });
    services = builtinServices({ loaded, logger: nullLogger });
    for (const s of services) await s.start();
    url = (services.find((s) => s.name === 'observe') as ObserveService).url!;
  });
  after(async () => {
    for (const s of [...services].reverse()) await s.stop();
    await cleanup();
  });

  it('serves Prometheus text that promtool accepts, with the backup in the folder counted', async () => {
    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /^ssr_recovery_backups 1$/m);
    assert.match(text, /^ssr_recovery_backup_last_success_timestamp_seconds \d{10}/m);
    assert.match(text, /^ssr_recovery_agent_connections 0$/m);
    const lint = promtool(['check', 'metrics'], text);
    assert.equal(lint.code, 0, lint.out);
  });

  it('the daemon installs its sink: a backup finished in its process shows in the counters', async () => {
    observeSink().backupFinished({ ok: false, durationSeconds: 0.5, at: Date.now() });
    const text = await (await fetch(`${url}/metrics`)).text();
    assert.match(text, /^ssr_recovery_backup_runs_total\{outcome="failed"\} 1$/m);
  });

  it('a restore-test run from the CLI (another process) shows in the gauges and on the page', async () => {
    const dir = join(root, 'var/log/128technology');
    const archive = (await readdir(dir)).find((n) => n.endsWith('.tar.gz'));
    assert.ok(archive, 'the backup made in before()');
    const cli = spawnSync(
      process.execPath,
      [
        join(repo, 'dist/conductor-agent/bin.js'),
        '--root',
        root,
        '--json',
        'backup',
        'verify',
        '--restore-test',
        join(dir, archive),
      ],
      { encoding: 'utf8', env: { ...process.env, SSR_RECOVERY_OBSERVE_LISTEN: 'off' } },
    );
    const recorded = Object.values(await readRestoreTests(join(root, 'var/lib/ssr-recovery')));
    assert.equal(recorded.length, 1, `the CLI remembered its result (exit ${cli.status}): ${cli.stderr.slice(-800)}`);
    const r = recorded[0]!;
    const text = await (await fetch(`${url}/metrics`)).text();
    assert.match(text, new RegExp(`^ssr_recovery_restore_test_last_success ${r.ok ? 1 : 0}$`, 'm'));
    const at = Number(/^ssr_recovery_restore_test_last_timestamp_seconds (\S+)$/m.exec(text)?.[1]);
    assert.equal(at, Date.parse(r.at) / 1000);
    const page = await (await fetch(`${url}/`)).text();
    const line = /<p id="restore-test">(.*?)<\/p>/s.exec(page)?.[1] ?? '';
    assert.match(line, r.ok ? /passed/ : /FAILED/);
    assert.ok(line.includes(r.archive), line);
  });

  it('answers /healthz with JSON, the page read-only, and refuses every method but GET and HEAD', async () => {
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, 'ok');
    const page = await fetch(`${url}/?trust=trusted`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    const html = await page.text();
    assert.match(html, /content="3"/);
    assert.match(html, /conductor-backup-/);
    for (const method of ['POST', 'PUT', 'DELETE']) {
      assert.equal((await fetch(`${url}/`, { method })).status, 405, method);
    }
    assert.equal((await fetch(`${url}/nope`)).status, 404);
  });

  it('the router agent serves its own metrics (promtool-clean) and health, counting each command once', async () => {
    const agent = fakeAgent();
    const obs = await startRouterObserve(agent, '127.0.0.1:0', nullLogger);
    try {
      const outcome = { action: 'reauth', ok: true } as never;
      agent.emit('report', { kind: 'reauth', commandId: 'c1', outcome });
      agent.emit('report', { kind: 'reauth', commandId: 'c1', outcome }); // re-sent on reconnect
      const text = await (await fetch(`${obs.url}/metrics`)).text();
      assert.match(text, /^ssr_recovery_router_trust_state\{minion="router-7",state="stale-master-key"\} 1$/m);
      assert.match(text, /^ssr_recovery_router_trust_state\{minion="router-7",state="trusted"\} 0$/m);
      assert.match(text, /^ssr_recovery_router_conductor_links\{state="ready"\} 1$/m);
      assert.match(text, /^ssr_recovery_router_commands_total\{action="reauth",outcome="ok"\} 1$/m);
      const lint = promtool(['check', 'metrics'], text);
      assert.equal(lint.code, 0, lint.out);
      const health = (await (await fetch(`${obs.url}/healthz`)).json()) as { trust: string };
      assert.equal(health.trust, 'stale-master-key');
    } finally {
      await obs.close();
    }
  });

  it('a metrics port already taken leaves the router agent running without metrics (regression: watching must not stop re-auth)', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const port = (holder.address() as { port: number }).port;
    const errors: string[] = [];
    const logger = {
      ...nullLogger,
      error: (m: string) => void errors.push(m),
      child: () => logger,
    } as typeof nullLogger;
    try {
      const obs = await startRouterObserve(fakeAgent(), `127.0.0.1:${port}`, logger);
      assert.equal(obs.url, undefined);
      assert.match(errors.join('\n'), /cannot serve metrics/);
    } finally {
      holder.close();
    }
  });
});

describe('observability: the daemon when its metrics address is taken', function () {
  this.timeout(60_000);
  it('exits with SERVICE_FAILED naming observe.listen, not 70 (regression: a bind failure was reported as a bug)', async () => {
    const { dir: root, cleanup } = await makeTmpDir('ssr-observe-taken-');
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const port = (holder.address() as { port: number }).port;
    try {
      await makeConductorTree(root, { minions: 1 });
      await mkdir(join(root, 'etc/ssr-recovery'), { recursive: true });
      await writeFile(
        join(root, 'etc/ssr-recovery/conductor-agent.yaml'),
        stringify({ agents: { listen: '127.0.0.2:0' }, observe: { listen: `127.0.0.1:${port}` } }),
      );
      const bin = join(repo, 'dist/conductor-agent/bin.js');
      const child = spawn(process.execPath, [bin, 'daemon', '--root', root], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        err += d;
      });
      const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      assert.equal(code, 1, err);
      assert.match(err, /SERVICE_FAILED/);
      assert.match(err, /observe\.listen/);
      assert.doesNotMatch(err, /bug/i);
    } finally {
      holder.close();
      await cleanup();
    }
  });
});

describe('observability: alert rules and dashboard', () => {
  it('promtool checks the rules and passes their unit tests', () => {
    const check = promtool(['check', 'rules', 'alerts.yml']);
    assert.equal(check.code, 0, check.out);
    const test = promtool(['test', 'rules', 'alerts.test.yml']);
    assert.equal(test.code, 0, test.out);
  });

  it('every metric the rules and the dashboard query is one the agents expose', () => {
    const exposed = new Set<string>();
    for (const file of ['conductor-agent/observe/metrics.ts', 'router-agent/observe.ts']) {
      const src = readFileSync(join(repo, file), 'utf8');
      for (const m of src.matchAll(/\$\{(?:PREFIX|P)\}([a-z_]+)/g)) {
        exposed.add((file.startsWith('router') ? 'ssr_recovery_router_' : 'ssr_recovery_') + m[1]);
      }
    }
    const queried = new Set<string>();
    const rules = readFileSync(join(rulesDir, 'alerts.yml'), 'utf8');
    const dashboard = readFileSync(join(repo, 'observability/grafana/ssr-recovery.json'), 'utf8');
    for (const m of (rules + dashboard).matchAll(/\b(ssr_recovery_[a-z_]+)/g)) queried.add(m[1]!);
    assert.ok(queried.size >= 8);
    for (const name of queried) assert.ok(exposed.has(name), `${name} is queried but no agent exposes it`);
    const doc = JSON.parse(dashboard) as { panels: unknown[] };
    assert.ok(doc.panels.length >= 8);
  });
});
