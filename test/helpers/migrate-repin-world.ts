/**
 * The repin-mode migration world: two SSR simulators (pair.ts) whose new conductor carries ANOTHER
 * master key, a Salt master simulator + salt-api emulator for each conductor on its own loopback
 * address (rooted in that conductor's tree, so the pki folders are the ones migrate reads), the old
 * conductor-agent's agent service as the daemon runs it (listener + control socket, in this process
 * so it outlives a killed `migrate`), real router agents over real WebSockets to it, and a simulated
 * salt-minion process per router. The SSR side of `migrate conductor` on the router (its minion
 * follows the new conductor-address) is modelled by the world's onMigrate hook: the minion's
 * `master:` is rewritten and the minion restarted — it then refuses the new master (its cached key
 * is the old one) until the router agent pins the new fingerprint.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startConductorPair, type ConductorPair } from '../../sandbox/ssr-simulator/pair.js';
import { startSaltSandbox, type SaltSandbox } from '../../sandbox/saltapi-emulator/sandbox.js';
import { saltCallCommandLine, writeSimRouter, type SimRouterPaths } from '../../sandbox/salt/minion-setup.js';
import { minionServiceCommands } from '../../sandbox/salt/minion-service.js';
import { commandServiceControl, type ServiceControl } from '../../shared/ports/service-control.js';
import { loadOrCreateAgentKey } from '../../router-agent/agent-key.js';
import { createAgentService } from '../../conductor-agent/ws/service.js';
import { loadConfig } from '../../shared/config/load.js';
import { nullLogger } from '../../shared/log/logger.js';
import { routerFacts, startRouter, until, type ConductorSide } from './agents.js';

export const REPIN_OLD = '127.23.0.2';
export const REPIN_NEW = '127.23.0.3';
export const REPIN_NEW_2 = '127.23.0.4';

export interface RepinRouter {
  id: string;
  paths: SimRouterPaths;
  service: ServiceControl;
}

export interface RepinWorld {
  pair: ConductorPair;
  oldSalt: SaltSandbox;
  newSalt: SaltSandbox;
  conductor: ConductorSide;
  routers: RepinRouter[];
  close(): Promise<void>;
}

async function rewriteConfig(pair: ConductorPair, oldSalt: SaltSandbox, newSalt: SaltSandbox): Promise<void> {
  const cfg = parse(await readFile(pair.configFile, 'utf8')) as Record<string, Record<string, unknown>>;
  cfg.saltApi = {
    url: oldSalt.url,
    username: oldSalt.username,
    passwordFile: '/etc/ssr-recovery/salt-api.secret',
    eauth: 'sharedsecret',
  };
  (cfg.migrate!.to as Record<string, unknown>).saltApiUrl = newSalt.url;
  // Generous: every minion step is a real process start, and the machine may be busy.
  Object.assign(cfg.migrate!, { connectedTimeoutSeconds: 120, runningTimeoutSeconds: 120 });
  cfg.reauth = { routerTimeoutSeconds: 90, verifyTimeoutSeconds: 60 };
  cfg.agents = { ...cfg.agents, listen: `${REPIN_OLD}:0`, heartbeatMs: 1000 };
  await writeFile(pair.configFile, stringify(cfg), { mode: 0o600 });
}

/** Point a router's minion at `master` (what the SSR does on the router after `migrate conductor`). */
function followMaster(r: RepinRouter, master: { host: string; port: number }): void {
  const file = join(r.paths.configDir, 'minion');
  const o = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeFileSync(file, stringify({ ...o, master: master.host, master_port: master.port }));
  void r.service.restart().catch(() => undefined);
}

export async function makeRepinWorld(n: number): Promise<RepinWorld> {
  const pair = await startConductorPair({
    routers: n,
    sameKey: false,
    addresses: { old: REPIN_OLD, new: REPIN_NEW, new2: REPIN_NEW_2 },
    delays: { pendingMs: 100, connectedMs: 100 },
  });
  const closers: Array<() => Promise<unknown>> = [];
  const secret = 'repin-world-secret';
  const oldSalt = await startSaltSandbox({
    root: pair.oldRoot,
    host: REPIN_OLD,
    secret,
    masterConfig: { auto_accept: true },
  });
  const newSalt = await startSaltSandbox({ root: pair.newRoot, host: REPIN_NEW, secret });
  await rewriteConfig(pair, oldSalt, newSalt);
  const loaded = loadConfig({ agent: 'conductor-agent', root: pair.oldRoot, env: {}, overrides: {} });
  const svc = createAgentService({
    config: loaded.config,
    path: loaded.path,
    logger: nullLogger,
    enrollEvents: async () => undefined,
  });
  await svc.start();
  const conductor: ConductorSide = {
    identity: svc.identity!,
    registry: svc.registry!,
    server: svc.server!,
    stateDir: loaded.path(loaded.config.agents.stateDir),
  };
  // The new master keeps its own keys (a real Salt master); the world only reads them.
  pair.world.conductorAt(REPIN_NEW)!.depositKeys = false;
  const routers: RepinRouter[] = [];
  for (const id of pair.routerNames) {
    await rm(join(oldSalt.pkiDir, 'minions', id), { force: true });
    const paths = await writeSimRouter({ root: join(pair.dir, 'routers', id), id, master: oldSalt.master.address });
    const service = commandServiceControl({
      name: 'salt-minion',
      unit: 'salt-minion',
      commands: minionServiceCommands(paths),
    });
    closers.push(() => service.stop().catch(() => undefined));
    await service.start();
    await oldSalt.master.waitForMinion(id);
    const node = pair.world.routers.get(id)!.nodes[0]!;
    node.minionPub = await readFile(join(paths.pkiDir, 'minion.pub'), 'utf8');
    const agentKey = await loadOrCreateAgentKey(`${paths.stateDir}-agent`);
    await conductor.registry.enroll(id, agentKey.publicPem, { source: 'salt-event' });
    const agent = await startRouter(
      routerFacts(
        { ...paths, stateDir: `${paths.stateDir}-agent` },
        { minionId: id, conductor, service, saltCall: saltCallCommandLine(paths) },
      ),
      { settings: { reauthTimeoutMs: 60_000, settleMs: 300, pollMs: 100, confirmPollMs: 50 } },
    );
    closers.push(() => agent.stop());
    routers.push({ id, paths, service });
  }
  await until(
    () =>
      pair.routerNames.every(
        (id) => conductor.server.fleet().find((e) => e.routerId === id)?.trustFacts?.minionKeyFingerprint,
      ),
    30_000,
    'agents reported their minion keys',
  );
  const byId = new Map(routers.map((r) => [r.id, r]));
  pair.world.onMigrate = (name) => {
    const r = byId.get(name);
    const to = pair.world.routers.get(name)?.conductors ?? [];
    if (r) followMaster(r, to.includes(REPIN_OLD) ? oldSalt.master.address : newSalt.master.address);
  };
  return {
    pair,
    oldSalt,
    newSalt,
    conductor,
    routers,
    async close() {
      for (const c of closers.splice(0).reverse()) await c();
      await svc.stop();
      await Promise.all([oldSalt.close(), newSalt.close()]);
      await pair.close();
    },
  };
}
