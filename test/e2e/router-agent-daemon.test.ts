// The whole re-authentication path with real processes: conductor-agent daemon and router-agent
// daemon forked from source, the minion simulator as a child process, the Salt master simulator and
// salt-api emulator on 127.0.0.2. The router agent enrolls over a Salt event, detects the stale key
// after the conductor loses its master key, is killed in the middle of a re-authentication
// commanded by `conductor-agent reauth`, and finishes it after a restart.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { pemFingerFile } from '../../shared/salt/fingerprint.js';
import { commandServiceControl } from '../../shared/ports/service-control.js';
import { loadOrCreateConductorIdentity } from '../../conductor-agent/identity/agent-key.js';
import { startSaltSandbox, type SaltSandbox } from '../../sandbox/saltapi-emulator/sandbox.js';
import { writeSimRouter } from '../../sandbox/salt/minion-setup.js';
import { minionServiceCommands } from '../../sandbox/salt/minion-service.js';
import { fixtureCommandLine } from '../../sandbox/salt/entry.js';
import { makeTmpDir } from '../helpers/tmpdir.js';
import { freePort } from '../../shared/net/free-port.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const conductorBin = join(repo, 'conductor-agent/bin.ts');
const routerBin = join(repo, 'router-agent/bin.ts');

interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<number | null>;
}
function launch(args: string[]): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env },
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => out, err: () => err, exit };
}
async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 30_000, p?: Proc): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end)
      throw new Error(
        `timed out waiting for ${what}${p ? `\nstdout:\n${p.out()}\nstderr:\n${p.err().slice(-4000)}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}
async function cli(
  args: string[],
): Promise<{ code: number | null; json: Record<string, unknown> | undefined; out: string; err: string }> {
  const p = launch(args);
  const code = await p.exit;
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(p.out()) as Record<string, unknown>;
  } catch {
    /* not json */
  }
  return { code, json, out: p.out(), err: p.err() };
}

describe('e2e: router-agent and conductor-agent daemons, enrollment, crash mid-reauth', function () {
  this.timeout(180_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let sb: SaltSandbox;
  const procs: Proc[] = [];
  let minionStop: (() => Promise<void>) | undefined;

  before(async () => ({ dir, cleanup } = await makeTmpDir('ssr-e2e-agent-')));
  after(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await minionStop?.().catch(() => undefined);
    await sb?.close();
    await cleanup();
  });

  it('enrolls over Salt, reports the stale key, and finishes a re-authentication interrupted by kill -9', async () => {
    const cRoot = join(dir, 'conductor');
    const rRoot = join(dir, 'router');
    sb = await startSaltSandbox({ root: cRoot, host: '127.0.0.2', masterConfig: { auto_accept: true } });
    const paths = await writeSimRouter({ root: rRoot, id: 'router-1', master: sb.master.address });
    const commands = minionServiceCommands(paths);
    const minion = commandServiceControl({ name: 'salt-minion', unit: 'salt-minion', commands });
    minionStop = () => minion.stop();
    await minion.start();
    await sb.master.waitForMinion('router-1');

    // conductor-agent: identity made ahead (as the install state would), daemon with salt-api for enrollment
    const identity = await loadOrCreateConductorIdentity(join(cRoot, 'var/lib/ssr-recovery'));
    const port = await freePort('127.0.0.2');
    mkdirSync(join(cRoot, 'etc/ssr-recovery'), { recursive: true });
    writeFileSync(
      join(cRoot, 'etc/ssr-recovery/conductor-agent.yaml'),
      stringify({
        saltApi: {
          url: sb.url,
          eauth: 'sharedsecret',
          username: sb.username,
          passwordFile: '/etc/ssr-recovery/salt-api.secret',
        },
        agents: { listen: `127.0.0.2:${port}`, commandTimeoutMs: 90_000, heartbeatMs: 2_000 },
        observe: { listen: '127.0.0.2:0' },
        log: { level: 'info' },
      }),
    );
    const conductor = launch([conductorBin, 'daemon', '--json', '--root', cRoot]);
    procs.push(conductor);
    await until('conductor-agent ready', () => conductor.out().includes('"event":"ready"'), 30_000, conductor);

    mkdirSync(join(rRoot, 'etc/ssr-recovery'), { recursive: true });
    writeFileSync(
      join(rRoot, 'etc/ssr-recovery/router-agent.yaml'),
      stringify({
        conductor: {
          addresses: [`127.0.0.2:${port}`],
          agentPublicKey: identity.signing.publicPem,
          certFingerprint: identity.certFingerprint,
        },
        agent: {
          saltCall: fixtureCommandLine('salt-call', ['--config-dir', paths.configDir]),
          reauthTimeoutMs: 30_000,
          settleMs: 1_000,
          pollMs: 200,
          heartbeatMs: 2_000,
        },
        services: { minion: commands },
        observe: { listen: '127.0.0.1:0' },
        log: { level: 'info' },
      }),
    );
    const startRouter = (): Proc => {
      const p = launch([routerBin, 'daemon', '--json', '--root', rRoot]);
      procs.push(p);
      return p;
    };
    let router = startRouter();
    await until('router-agent ready', () => router.out().includes('"ready":true'), 30_000, router);

    const fleet = async () =>
      ((await cli([conductorBin, 'fleet', '--json', '--root', cRoot])).json?.routers ?? []) as Array<
        Record<string, unknown>
      >;
    await until(
      'enrollment over Salt and a connected agent',
      async () => (await fleet()).some((e) => e.routerId === 'router-1' && e.enrolled && e.connected),
      60_000,
      conductor,
    );

    // The conductor loses its master key: a new one is generated and the master restarted.
    await sb.master.pki.writeKeyPair('master');
    await sb.master.restart();
    await until(
      'stale-master-key in the fleet view',
      async () => (await fleet()).some((e) => e.routerId === 'router-1' && e.trust === 'stale-master-key'),
      60_000,
      router,
    );

    // `conductor-agent reauth --router` waits for the signed report; the router agent dies mid-way.
    const reauth = cli([
      conductorBin,
      'reauth',
      '--router',
      'router-1',
      '--json',
      '--root',
      cRoot,
      '--timeout',
      '30000',
    ]);
    const journal = join(rRoot, 'var/lib/ssr-recovery-router/reauth/journal.json');
    await until(
      'the re-authentication to be under way',
      () => {
        if (!existsSync(journal)) return false;
        try {
          return ['stopped', 'pinned', 'key-moved', 'started'].includes(
            (JSON.parse(readFileSync(journal, 'utf8')) as { step: string }).step,
          );
        } catch {
          return false;
        }
      },
      60_000,
      router,
    );
    router.child.kill('SIGKILL');
    await router.exit;
    router = startRouter();
    const result = await reauth;
    assert.equal(result.code, 0, `${result.out}\n${result.err}\nrouter:\n${router.err().slice(-3000)}`);
    const outcome = result.json!.outcome as { ok: boolean; recovered?: boolean; cachedFingerprint: string };
    assert.equal(outcome.ok, true);
    assert.equal(outcome.recovered, true, 'finished by the restarted agent');
    assert.equal(outcome.cachedFingerprint, await pemFingerFile(join(sb.pkiDir, 'master.pub')));
    await sb.master.waitForMinion('router-1', 30_000);
    await until(
      'trusted in the fleet view',
      async () => (await fleet()).some((e) => e.routerId === 'router-1' && e.trust === 'trusted'),
      60_000,
      router,
    );

    router.child.kill('SIGTERM');
    conductor.child.kill('SIGTERM');
    assert.equal(await router.exit, 0, router.err().slice(-2000));
    assert.equal(await conductor.exit, 0, conductor.err().slice(-2000));
  });
});
