/**
 * The drill's routers: each under its own root, a simulated salt-minion (real child process with
 * real pki files and log, controlled through the same `services.minion.*` command lines an
 * operator would configure) and a **real router-agent daemon** (the compiled bin, its own
 * process), configured from `<root>/etc/ssr-recovery/router-agent.yaml` with the conductor-agent's
 * key and certificate pinned, as the salt state would install it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSimRouter, type SimRouterPaths } from '../../sandbox/salt/minion-setup.js';
import { minionServiceCommands } from '../../sandbox/salt/minion-service.js';
import { fixtureCommandLine } from '../../sandbox/salt/entry.js';
import { splitCommandLine, systemProcessRunner } from '../../shared/ports/process-runner.js';

const fromSource = import.meta.url.endsWith('.ts');

/** argv of the router-agent bin (compiled, or through tsx when running from source). */
export function routerAgentArgv(args: string[]): string[] {
  // From the compiled tree, run the one-file bundle the systemd unit runs (scripts/bundle-router-agent.mjs).
  const bundle = fileURLToPath(new URL('../../router-agent/router-agent.cjs', import.meta.url));
  if (!fromSource && existsSync(bundle)) return [process.execPath, bundle, ...args];
  const file = fileURLToPath(new URL(`../../router-agent/bin.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  return fromSource
    ? [process.execPath, '--import', import.meta.resolve('tsx'), file, ...args]
    : [process.execPath, file, ...args];
}

export interface SimRouterOptions {
  id: string;
  root: string;
  conductorHost: string;
  masterPort: number;
  agentPort: number;
  /** The conductor-agent's signing public key (PEM) and TLS certificate fingerprint to pin. */
  agentPublicKey: string;
  certFingerprint: string;
  /** Minion retry cadence in seconds. */
  acceptanceWaitTime: number;
}

export class SimRouter {
  paths!: SimRouterPaths;
  private agent: ChildProcess | undefined;
  private services!: ReturnType<typeof minionServiceCommands>;

  constructor(readonly o: SimRouterOptions) {}

  /** Lay out the router's files: minion config, minion_id, global.init, router-agent.yaml. */
  async install(): Promise<void> {
    const o = this.o;
    this.paths = await writeSimRouter({
      root: o.root,
      id: o.id,
      master: { host: o.conductorHost, port: o.masterPort },
      acceptanceWaitTime: o.acceptanceWaitTime,
    });
    await writeFile(join(this.paths.configDir, 'minion_id'), `${o.id}\n`);
    await mkdir(join(o.root, 'etc/128technology'), { recursive: true });
    await writeFile(
      join(o.root, 'etc/128technology/global.init'),
      JSON.stringify(
        {
          init: {
            routerName: o.id,
            control: { node0: { host: '127.0.0.1' } },
            conductor: { conductor1: { host: o.conductorHost } },
          },
        },
        null,
        2,
      ),
    );
    this.services = minionServiceCommands({
      configDir: this.paths.configDir,
      stateDir: this.paths.stateDir,
      pkiDir: this.paths.pkiDir,
      logFile: this.paths.logFile,
    });
    await mkdir(join(o.root, 'etc/ssr-recovery'), { recursive: true, mode: 0o700 });
    // JSON is valid YAML and takes the router agent's fast config path (as the salt state renders it).
    await writeFile(
      join(o.root, 'etc/ssr-recovery/router-agent.yaml'),
      JSON.stringify(
        {
          conductor: {
            addresses: [`${o.conductorHost}:${o.agentPort}`],
            agentPublicKey: o.agentPublicKey,
            certFingerprint: o.certFingerprint,
          },
          agent: {
            stateDir: '/var/lib/ssr-recovery-router',
            saltCall: fixtureCommandLine('salt-call', ['--config-dir', this.paths.configDir]),
            reauthTimeoutMs: 30_000,
            settleMs: 1_000,
            pollMs: 250,
            heartbeatMs: 2_000,
          },
          services: { minion: this.services },
          // Several routers share this host in the drill: each serves its metrics on a free port.
          observe: { listen: '127.0.0.1:0' },
          log: { level: 'info' },
        },
        null,
        2,
      ),
    );
  }

  async startMinion(): Promise<void> {
    const r = await systemProcessRunner.run(splitCommandLine(this.services.start), { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`could not start the minion of ${this.o.id}: ${r.stderr.trim()}`);
  }

  async stopMinion(): Promise<void> {
    await systemProcessRunner.run(splitCommandLine(this.services.stop), { timeoutMs: 30_000 });
  }

  /** Start the router-agent daemon as its own process; its log goes to `<root>/var/log/router-agent.log`. */
  async startAgent(): Promise<void> {
    const [cmd, ...args] = routerAgentArgv(['daemon', '--root', this.o.root]);
    await mkdir(join(this.o.root, 'var/log'), { recursive: true });
    const log = createWriteStream(join(this.o.root, 'var/log/router-agent.log'), { flags: 'a' });
    const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    this.agent = child;
  }

  async stopAgent(): Promise<void> {
    const child = this.agent;
    this.agent = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }

  async close(): Promise<void> {
    await this.stopAgent().catch(() => undefined);
    await this.stopMinion().catch(() => undefined);
  }
}
