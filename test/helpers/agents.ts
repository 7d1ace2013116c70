/**
 * Test harness for the agent channel: a conductor-agent side (identity, registry, wss server) and
 * router agents built in-process on loopback, with the minion given as any ServiceControl (the
 * file-level fake or the real-process simulator).
 */
import { join } from 'node:path';
import { nullLogger, type Logger } from '../../shared/log/logger.js';
import type { ServiceControl } from '../../shared/ports/service-control.js';
import type { ProcessRunner } from '../../shared/ports/process-runner.js';
import { loadPublicKeys } from '../../shared/protocol/signing-keys.js';
import {
  loadOrCreateConductorIdentity,
  type ConductorAgentIdentity,
} from '../../conductor-agent/identity/agent-key.js';
import { AgentRegistry } from '../../conductor-agent/registry/store.js';
import { startAgentServer, type AgentServer } from '../../conductor-agent/ws/server.js';
import { minionConfigPaths } from '../../router-agent/minion/config-files.js';
import type { RouterFacts } from '../../router-agent/facts.js';
import type { MasterProbe } from '../../router-agent/reauth/confirm.js';
import { startRouterAgent, type RouterAgent, type RouterAgentSettings } from '../../router-agent/daemon/agent.js';

export interface ConductorSide {
  identity: ConductorAgentIdentity;
  registry: AgentRegistry;
  server: AgentServer;
  stateDir: string;
}

export async function startConductorSide(
  dir: string,
  o: {
    host?: string;
    masterFingerprint?: () => Promise<string | undefined>;
    logger?: Logger;
    heartbeatMs?: number;
  } = {},
): Promise<ConductorSide> {
  const stateDir = join(dir, 'conductor/var/lib/ssr-recovery');
  const identity = await loadOrCreateConductorIdentity(stateDir);
  const registry = await AgentRegistry.open(stateDir, { flushDelayMs: 5 });
  const server = await startAgentServer({
    host: o.host ?? '127.0.0.2',
    port: 0,
    identity,
    registry,
    logger: o.logger ?? nullLogger,
    masterFingerprint: o.masterFingerprint,
    heartbeatMs: o.heartbeatMs,
  });
  return { identity, registry, server, stateDir };
}

export interface RouterPaths {
  configDir: string;
  pkiDir: string;
  logFile: string;
  stateDir: string;
}

export function routerFacts(
  paths: RouterPaths,
  o: {
    minionId: string;
    conductor?: ConductorSide;
    urls?: string[];
    service: ServiceControl;
    saltCall?: string;
    certFingerprints?: string[];
  },
): RouterFacts {
  return {
    minionId: o.minionId,
    config: minionConfigPaths(paths.configDir),
    pkiDir: paths.pkiDir,
    logFile: paths.logFile,
    stateDir: paths.stateDir,
    conductorUrls: o.urls ?? (o.conductor ? [o.conductor.server.url] : []),
    conductorKeys: o.conductor ? loadPublicKeys(o.conductor.identity.signing.publicPem) : [],
    certFingerprints: o.certFingerprints ?? (o.conductor ? [o.conductor.identity.certFingerprint] : []),
    saltCall: o.saltCall ?? 'false',
    service: o.service,
  };
}

export const fastSettings: RouterAgentSettings = {
  reauthTimeoutMs: 5_000,
  settleMs: 60,
  pollMs: 50,
  confirmPollMs: 15,
  heartbeatMs: 1_000,
  backoffMinMs: 20,
  backoffMaxMs: 200,
};

export interface StartRouterOptions {
  settings?: Partial<RouterAgentSettings>;
  runner?: ProcessRunner;
  enroll?: boolean;
  logger?: Logger;
  /** The positive check after a re-authentication (default: salt-call test.ping via facts.saltCall). */
  probe?: MasterProbe;
}

export async function startRouter(facts: RouterFacts, o: StartRouterOptions = {}): Promise<RouterAgent> {
  return startRouterAgent({
    facts,
    settings: { ...fastSettings, ...o.settings },
    runner: o.runner,
    enroll: o.enroll ?? false,
    logger: o.logger,
    probe: o.probe,
  });
}

/** Poll `cond` until true (or fail after `ms`). */
export async function until(cond: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * One simulated router on loopback: a minion process (Salt master simulator `master`) run as a service,
 * its agent key enrolled in the conductor side's registry, and a real router agent whose re-auth is
 * confirmed by the router's own `salt-call test.ping`. Returns the closers (agent first, then minion).
 */
export async function startSimRouterWithAgent(o: {
  dir: string;
  id: string;
  master: { address: { host: string; port: number }; waitForMinion(id: string): Promise<unknown> };
  conductor: ConductorSide;
  settings?: Partial<RouterAgentSettings>;
}): Promise<{ agent: RouterAgent; service: ServiceControl; close(): Promise<void> }> {
  const { writeSimRouter, saltCallCommandLine } = await import('../../sandbox/salt/minion-setup.js');
  const { minionServiceCommands } = await import('../../sandbox/salt/minion-service.js');
  const { commandServiceControl } = await import('../../shared/ports/service-control.js');
  const { loadOrCreateAgentKey } = await import('../../router-agent/agent-key.js');
  const paths = await writeSimRouter({ root: o.dir, id: o.id, master: o.master.address });
  const service = commandServiceControl({
    name: 'salt-minion',
    unit: 'salt-minion',
    commands: minionServiceCommands(paths),
  });
  await service.start();
  await o.master.waitForMinion(o.id);
  const agentKey = await loadOrCreateAgentKey(`${paths.stateDir}-agent`);
  await o.conductor.registry.enroll(o.id, agentKey.publicPem, { source: 'salt-event' });
  const agent = await startRouter(
    routerFacts(
      { ...paths, stateDir: `${paths.stateDir}-agent` },
      { minionId: o.id, conductor: o.conductor, service, saltCall: saltCallCommandLine(paths) },
    ),
    { settings: o.settings },
  );
  return {
    agent,
    service,
    async close() {
      await agent.stop();
      await service.stop().catch(() => undefined);
    },
  };
}
