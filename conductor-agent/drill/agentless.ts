/**
 * The drill's router without an agent, brought back over SSH through the fallback: a simulated
 * minion that still caches the master key the conductor lost (so it refuses the current one), a
 * real OpenSSH sshd on loopback standing in for the router's SSR reverse tunnel, reached through a
 * `nodeIdentifier` map (ssh_config, as the conductor keeps it) with its host key pinned from a
 * known_hosts file written in peacetime — never learned now. The product's wave runs the fixed SSH
 * steps, the key gate accepts the pending minion key only because it equals the `minion.pub` read
 * over that pinned session, and the router counts as done when it answers test.ping via salt-api.
 * Without sshd (or root) the step passes with "skipped: <reason>".
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fixtureArgv } from '../../sandbox/salt/entry.js';
import { writeSimRouter } from '../../sandbox/salt/minion-setup.js';
import { RecoveryError } from '../../shared/errors.js';
import { PRIVATE_DIR_MODE } from '../../shared/fs/atomic.js';
import { nullLogger } from '../../shared/log/logger.js';
import { systemClock } from '../../shared/ports/clock.js';
import { splitCommandLine, systemProcessRunner } from '../../shared/ports/process-runner.js';
import type { SaltLocalCaller } from '../keys/minion-probe.js';
import { parseInventory } from '../ssh/inventory.js';
import { parseKnownHosts } from '../ssh/known-hosts.js';
import { parseNodeIdentifier } from '../ssh/node-identifier.js';
import { buildSshRoutes } from '../ssh/routes.js';
import { sshReauthChannel } from '../ssh/steps.js';
import { startDrillSshd, sshdUnavailable, type DrillSshd } from './sshd.js';
import { drillWave } from './wave.js';

export const AGENTLESS_ID = 'agentless-1';

export interface AgentlessOptions {
  dir: string;
  host: string;
  masterPort: number;
  sshPort: number;
  pkiDir: string;
  masterFingerprint: string;
  /** The master key the lost disk held: what the router still caches. */
  staleMasterPub: string;
  salt: SaltLocalCaller;
  onProgress?: ((line: string) => void) | undefined;
}

const sq = (v: string): string => {
  if (v.includes("'")) throw new Error(`unexpected quote in a sandbox path: ${v}`);
  return `'${v}'`;
};

/** A systemctl-like `<verb> [--quiet] <unit>` in front of the simulated minion's service command. */
function serviceWrapper(p: { configDir: string; stateDir: string; pkiDir: string; logFile: string }): string {
  const paths = [
    '--config-dir',
    p.configDir,
    '--state-dir',
    p.stateDir,
    '--pki-dir',
    p.pkiDir,
    '--log-file',
    p.logFile,
  ];
  const argv = fixtureArgv('minion-service', ['"$verb"', ...paths]);
  const line = argv.map((a) => (a === '"$verb"' ? a : sq(a))).join(' ');
  return ['#!/bin/sh', 'verb="$1"', `exec ${line} >/dev/null`, ''].join('\n');
}

/** Run the agentless router's re-authentication; returns the step's facts. */
export async function runAgentless(o: AgentlessOptions): Promise<Record<string, unknown>> {
  const unavailable = sshdUnavailable();
  if (unavailable) return { agentless: `skipped: ${unavailable}` };
  const root = join(o.dir, 'routers', AGENTLESS_ID);
  const paths = await writeSimRouter({
    root,
    id: AGENTLESS_ID,
    master: { host: o.host, port: o.masterPort },
    acceptanceWaitTime: 0.5,
  });
  await mkdir(paths.pkiDir, { recursive: true });
  await copyFile(o.staleMasterPub, join(paths.pkiDir, 'minion_master.pub'));
  const svc = join(root, 'minion-systemctl');
  await writeFile(svc, serviceWrapper(paths), { mode: 0o755 });
  const sshDir = join(o.dir, 'agentless-sshd');
  await mkdir(sshDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  let sshd: DrillSshd | undefined;
  try {
    await runService(svc, 'start');
    sshd = await startDrillSshd(sshDir, o.host, o.sshPort);
    // Salt's sign-in sends the minion key first: the master holds it pending while the minion
    // refuses the master's new key.
    await until('the agentless minion key to be pending on the master', 30_000, () =>
      existsSync(join(o.pkiDir, 'minions_pre', AGENTLESS_ID)),
    );
    return await reauthOverSsh(o, sshd, { svc, ...paths }, sshDir);
  } finally {
    await runService(svc, 'stop').catch(() => undefined);
    await sshd?.stop();
  }
}

async function until(what: string, ms: number, cond: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end)
      throw new RecoveryError('VERIFY_FAILED', `timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function runService(svc: string, verb: string): Promise<void> {
  const r = await systemProcessRunner.run(splitCommandLine(`${svc} ${verb} salt-minion`), { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`${verb} of the agentless router's minion failed: ${r.stderr.trim()}`);
}

async function reauthOverSsh(
  o: AgentlessOptions,
  sshd: DrillSshd,
  p: { svc: string; configDir: string; pkiDir: string },
  sshDir: string,
): Promise<Record<string, unknown>> {
  // Peacetime: the conductor's nodeIdentifier map and a known_hosts file holding the router's host key.
  const alias = `node0.${AGENTLESS_ID}`;
  const map = `Host ${alias}\n  HostName ${sshd.host}\n  Port ${sshd.port}\n  User ${sshd.user}\n`;
  await writeFile(join(sshDir, 'nodeIdentifier'), map);
  await writeFile(join(sshDir, 'known_hosts'), `${sshd.knownHostsLine}\n`);
  const inventory = parseInventory(
    JSON.stringify([
      {
        minion: AGENTLESS_ID,
        keyFile: sshd.clientKeyFile,
        sudo: false,
        serviceCommand: p.svc,
        configDir: p.configDir,
        pkiDir: p.pkiDir,
      },
    ]),
  );
  const routes = buildSshRoutes({
    tunnels: parseNodeIdentifier(map),
    inventory,
    knownHosts: parseKnownHosts(`${sshd.knownHostsLine}\n`),
    knownHostsSource: 'known_hosts',
    reportedHostKeys: new Map(),
    defaultUser: sshd.user,
  });
  const channel = sshReauthChannel({
    inventory,
    defaults: { user: sshd.user, sudo: false },
    clock: systemClock,
    logger: nullLogger,
    settleMs: 1000,
    pollMs: 200,
  });
  const w = await drillWave({
    ids: [AGENTLESS_ID],
    masterFingerprint: o.masterFingerprint,
    masterPubPath: join(o.pkiDir, 'master.pub'),
    pkiDir: o.pkiDir,
    fleet: [],
    salt: o.salt,
    rate: 0,
    concurrency: 1,
    clock: systemClock,
    ssh: { channel, routes },
    onProgress: o.onProgress,
  });
  const out = w.outcomes[0];
  const route = routes.get(AGENTLESS_ID)?.[0];
  const facts: Record<string, unknown> = {
    agentless: out?.state === 'done' ? 'back over SSH' : `NOT back (${out?.code ?? out?.state})`,
    router: AGENTLESS_ID,
    route: route ? `${route.channel} ${alias} → ${route.host}:${route.port}` : 'none',
    hostKeyPinnedFrom: route?.hostKeySource,
    minionKeyAcceptedByGate: out?.minionKeyFingerprint,
    timingsMs: out?.timings,
  };
  if (out?.state !== 'done') {
    throw new RecoveryError(
      'REAUTH_FAILED',
      `${AGENTLESS_ID} did not come back over SSH: ${out?.code ?? out?.state} ${out?.message ?? ''} ${(out?.evidence ?? []).slice(-4).join(' / ')}`,
      {
        details: { outcome: out },
      },
    );
  }
  return facts;
}
