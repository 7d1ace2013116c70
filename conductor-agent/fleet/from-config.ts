/**
 * Wiring a wave from configuration for the CLI: the daemon's fleet view and agent channel over the
 * control socket (the registry alone when the daemon is down), salt-api for `test.ping`, the key
 * gate over `salt.pkiDir`, SSH routes from the nodeIdentifier map, the inventory, known_hosts and
 * the host keys agents reported.
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { parse } from 'yaml';
import { hasCode, SshError } from '../../shared/errors.js';
import { systemClock } from '../../shared/ports/clock.js';
import { pemFingerFile } from '../../shared/salt/fingerprint.js';
import type { CommandContext } from '../cli/context.js';
import { readMasterConfig } from '../keys/master-config.js';
import type { ReauthRouterResult } from '../reauth/single.js';
import type { FleetEntry } from '../ws/fleet-view.js';
import { pkiKeyGate } from './key-gate.js';
import type { ReportedFacts } from './plan.js';
import type { AgentChannel } from './ports.js';
import { defaultRate } from './rate.js';
import type { FleetSources } from './wave.js';

async function optionalText(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new SshError('FLEET_INVENTORY_INVALID', `cannot read ${path}: ${err.code ?? err.message}`, {
      details: { path },
    });
  });
}

export interface WaveWiring {
  masterFingerprint: string;
  hashType: import('../../shared/salt/fingerprint.js').SaltHashType;
  defaultRate: number;
  conductor: { id: string; agentKey?: string | undefined };
  daemon: boolean;
  sources: FleetSources;
  agent?: AgentChannel | undefined;
}

/** Everything a wave needs that comes from this conductor's files and daemon. */
export async function wireWave(
  ctx: CommandContext,
  o: { inventory?: string; knownHosts?: string; nodeIdentifier?: string },
): Promise<WaveWiring> {
  const { ControlChannel } = await import('../ws/control.js');
  const { controlSocketPath, registryLockPath } = await import('../ws/service.js');
  const { AgentRegistry } = await import('../registry/store.js');
  const { mergeFleet } = await import('../ws/fleet-view.js');
  const { readConductorIdentityPublic } = await import('../identity/agent-key.js');
  const p = ctx.loaded.path;
  const pkiDir = p(ctx.config.salt.pkiDir);
  const master = await readMasterConfig(p(ctx.config.salt.masterConfig));
  const workers = Number((parse(master.text || '{}') as Record<string, unknown> | null)?.worker_threads) || undefined;
  const masterFingerprint = await pemFingerFile(`${pkiDir}/master.pub`, master.settings.hashType);
  const stateDir = p(ctx.config.agents.stateDir);
  const identity = await readConductorIdentityPublic(stateDir).catch(() => undefined);
  const sock = controlSocketPath(ctx.config, p);
  const registry = await AgentRegistry.open(stateDir, { lockFile: registryLockPath(p) });
  // One connection to the daemon for the whole wave: every router's request rides on it.
  const control = new ControlChannel(sock);
  let daemon = true;
  const fleet = await control.request<FleetEntry[]>('fleet', {}, 60_000).catch((err: unknown) => {
    if (!hasCode(err, 'AGENT_DAEMON_UNREACHABLE')) throw err;
    daemon = false;
    ctx.logger.warn('conductor-agent daemon not running: no agent channel, SSH routes only');
    return mergeFleet([], registry.list());
  });
  const reported = new Map<string, ReportedFacts>();
  for (const e of registry.list()) if (e.reported) reported.set(e.minionId, e.reported);
  const r = ctx.config.reauth;
  const sources: FleetSources = {
    fleet: async () => fleet,
    reported: async () => reported,
    sshRoutes: () => sshRoutesFrom(ctx, o, reported),
  };
  const agent: AgentChannel | undefined = daemon ? daemonReauth(control) : undefined;
  return {
    masterFingerprint,
    hashType: master.settings.hashType,
    defaultRate: r.rate ?? defaultRate(workers),
    daemon,
    sources,
    agent,
    conductor: { id: hostname(), agentKey: identity?.signingFingerprint },
  };
}

/**
 * Signed `reauth` commands through the daemon (the listener the routers' agents are connected to).
 * `masterConfirm: false`: the wave confirms every router with batched test.ping (verify.ts);
 * `brief`: the outcome only, not the signed report (the wave keeps the outcome and its evidence).
 */
export function daemonReauth(control: import('../ws/control.js').ControlChannel): AgentChannel {
  return {
    async reauth(routerId, fingerprint, timeoutMs) {
      const res = await control.request<Pick<ReauthRouterResult, 'ok' | 'outcome'>>(
        'reauth',
        { router: routerId, fingerprint, timeoutMs, masterConfirm: false, brief: true },
        timeoutMs + 60_000,
      );
      const out = res.outcome;
      return { ok: res.ok, code: out.code, message: out.message, evidence: out.evidence, timings: out.timings };
    },
  };
}

/** salt-api `test.ping` and the key gate. */
export async function saltPorts(
  ctx: CommandContext,
  hashType: import('../../shared/salt/fingerprint.js').SaltHashType,
) {
  const { saltApiClientFromConfig } = await import('../saltapi/from-config.js');
  const { saltApiMinionProbe } = await import('../keys/minion-probe.js');
  const client = await saltApiClientFromConfig(ctx.config, { path: ctx.loaded.path, logger: ctx.logger });
  return {
    pinger: saltApiMinionProbe(client, { timeoutSeconds: 5 }),
    gate: pkiKeyGate(ctx.loaded.path(ctx.config.salt.pkiDir), { hashType }),
    clock: systemClock,
  };
}

/** SSH routes: the nodeIdentifier map, the inventory, known_hosts and the host keys agents reported. */
async function sshRoutesFrom(
  ctx: CommandContext,
  o: { inventory?: string; knownHosts?: string; nodeIdentifier?: string },
  reported: Map<string, ReportedFacts>,
) {
  const p = ctx.loaded.path;
  const r = ctx.config.reauth;
  const [{ parseNodeIdentifier }, { parseInventory }, { parseKnownHosts }, { buildSshRoutes }] = await Promise.all([
    import('../ssh/node-identifier.js'),
    import('../ssh/inventory.js'),
    import('../ssh/known-hosts.js'),
    import('../ssh/routes.js'),
  ]);
  const mapFile = o.nodeIdentifier ?? p(r.nodeIdentifierFile);
  const invFile = o.inventory ?? (r.inventoryFile ? p(r.inventoryFile) : undefined);
  const khFile = o.knownHosts ?? (r.knownHostsFile ? p(r.knownHostsFile) : undefined);
  const mapText = await optionalText(mapFile);
  const invText = invFile ? await optionalText(invFile) : undefined;
  if (invFile && invText === undefined)
    throw new SshError('FLEET_INVENTORY_INVALID', `the inventory ${invFile} does not exist`);
  const khText = khFile ? await optionalText(khFile) : undefined;
  const reportedHostKeys = new Map(
    [...reported].filter(([, f]) => f.sshHostKeys?.length).map(([id, f]) => [id, f.sshHostKeys!]),
  );
  return buildSshRoutes({
    tunnels: mapText ? parseNodeIdentifier(mapText, mapFile) : [],
    inventory: invText ? parseInventory(invText, invFile) : [],
    knownHosts: khText ? parseKnownHosts(khText) : [],
    knownHostsSource: khFile,
    reportedHostKeys,
    defaultUser: r.sshUser,
  });
}
