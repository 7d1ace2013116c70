/**
 * Wiring our real CLIs and daemons (the built `dist/` bins) to a real-Salt rig: conductor-agent
 * config under the rig root, router-agent config under each minion's root, forked daemons with
 * their output captured, and waits on conditions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { Rig } from './rig.js';
import { freePort } from '../../shared/net/free-port.js';
export { freePort };

const repo = fileURLToPath(new URL('../..', import.meta.url));
export const conductorBin = join(repo, 'dist/conductor-agent/bin.js');
export const routerBin = join(repo, 'dist/router-agent/bin.js');

export interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<number | null>;
}

export function launch(
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  nodeOptions: string[] = [],
): Proc {
  const child = spawn(process.execPath, [...nodeOptions, bin, ...args], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
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

export interface CliResult {
  code: number | null;
  json: Record<string, unknown> | undefined;
  out: string;
  err: string;
}

export async function cli(bin: string, args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult> {
  const p = launch(bin, args, env);
  const code = await p.exit;
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(p.out()) as Record<string, unknown>;
  } catch {
    /* not json */
  }
  return { code, json, out: p.out(), err: p.err() };
}

export async function until(what: string, cond: () => boolean | Promise<boolean>, ms: number, p?: Proc): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}${p ? `\nstderr:\n${p.err().slice(-4000)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** `<root>/etc/ssr-recovery/conductor-agent.yaml` wired to the rig's real salt-api and master. */
export function writeConductorConfig(rig: Rig, o: { agentsPort?: number; extra?: Record<string, unknown> } = {}): void {
  const dir = join(rig.root, 'etc/ssr-recovery');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(
    join(dir, 'conductor-agent.yaml'),
    stringify({
      saltApi: {
        url: rig.apiUrl,
        eauth: rig.apiEauth,
        username: rig.apiUser,
        passwordFile: rig.apiPasswordFile.slice(rig.root.length),
        timeoutMs: 30_000,
      },
      ...(o.agentsPort
        ? { agents: { listen: `${rig.addr}:${o.agentsPort}`, commandTimeoutMs: 150_000, heartbeatMs: 2_000 } }
        : {}),
      keys: { waitSeconds: 120 },
      observe: { listen: `${rig.addr}:0` }, // never the fixed default port: another daemon may hold it
      services: { 'salt-master': rig.masterServiceCommands() },
      log: { level: 'info' },
      ...o.extra,
    }),
  );
}

export interface ConductorPins {
  agentPublicKey: string;
  certFingerprint: string;
}

/** `<minionRoot>/etc/ssr-recovery/router-agent.yaml`: the real minion as its service, our conductor pinned. */
export function writeRouterConfig(rig: Rig, id: string, o: { agentsPort: number; pins: ConductorPins }): void {
  const dir = join(rig.minionRoot(id), 'etc/ssr-recovery');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(
    join(dir, 'router-agent.yaml'),
    stringify({
      minion: { id },
      conductor: {
        addresses: [`${rig.addr}:${o.agentsPort}`],
        agentPublicKey: o.pins.agentPublicKey,
        certFingerprint: o.pins.certFingerprint,
      },
      agent: {
        saltCall: rig.saltCallCommand(id),
        reauthTimeoutMs: 90_000,
        settleMs: 3_000,
        pollMs: 500,
        heartbeatMs: 2_000,
      },
      services: { minion: rig.minionServiceCommands(id) },
      log: { level: 'info' },
    }),
  );
}

/** The conductor-agent's pins as `keys status --json` reports them. */
export async function conductorPins(rig: Rig): Promise<ConductorPins> {
  const r = await cli(conductorBin, ['keys', 'status', '--json', '--root', rig.root], rig.env);
  const agent = (r.json as { agent?: ConductorPins } | undefined)?.agent;
  if (!agent?.agentPublicKey || !agent.certFingerprint) {
    throw new Error(`keys status --json has no agent pins: ${r.out}\n${r.err}`);
  }
  return { agentPublicKey: agent.agentPublicKey, certFingerprint: agent.certFingerprint };
}

export type FleetEntry = Record<string, unknown> & { routerId: string };

export async function fleet(rig: Rig): Promise<FleetEntry[]> {
  const r = await cli(conductorBin, ['fleet', '--json', '--root', rig.root], rig.env);
  return (r.json?.routers ?? []) as FleetEntry[];
}

/** Salt's master fingerprint as the real `salt-key -F master` prints it. */
export async function saltKeyMasterFinger(rig: Rig): Promise<string> {
  const r = await rig.saltKey(['-F', 'master', '--out', 'json']);
  const doc = JSON.parse(r.stdout) as Record<string, Record<string, string>>;
  const finger = doc.local?.['master.pub'];
  if (!finger) throw new Error(`salt-key -F master: no master.pub fingerprint in ${r.stdout} ${r.stderr}`);
  return finger;
}
