/**
 * The agent channel as one daemon service `{name, start(), stop()}` for the conductor-agent
 * composition root: loads (or creates) the conductor-agent identity, opens the registry, serves
 * router agents on `agents.listen`, answers the CLI on the control socket, and records enrollments
 * from salt-api `/events` when salt-api is configured.
 */
import { dirname, join } from 'node:path';
import { ensureDir, PRIVATE_DIR_MODE } from '../../shared/fs/atomic.js';
import type { ConductorConfig } from '../../shared/config/schema.js';
import { ConfigError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log/logger.js';
import { pemFingerFile } from '../../shared/salt/fingerprint.js';
import { ENROLL_TAG } from '../../shared/protocol/enroll.js';
import { loadOrCreateConductorIdentity, type ConductorAgentIdentity } from '../identity/agent-key.js';
import { AgentRegistry } from '../registry/store.js';
import { runEnrollListener, type RawEventLike } from '../registry/enroll-listener.js';
import { briefResult, reauthRouter } from '../reauth/single.js';
import { startAgentServer, type AgentServer } from './server.js';
import { startControlServer, type ControlServer } from './control.js';

export interface AgentServiceOptions {
  config: ConductorConfig;
  /** Resolve a system path under `--root`. */
  path: (systemPath: string) => string;
  logger: Logger;
  /** Enrollment events; default: salt-api `/events` when saltApi credentials are configured. Return undefined for none. */
  enrollEvents?: () => Promise<
    (AsyncIterable<RawEventLike | { raw: RawEventLike }> & { close?: () => void }) | undefined
  >;
}

export interface AgentService {
  readonly name: 'agents';
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Available after start (the drill and tests use them in-process). */
  server?: AgentServer | undefined;
  registry?: AgentRegistry | undefined;
  identity?: ConductorAgentIdentity | undefined;
}

/** `host:port`, `[v6]:port` or `port` → listen address (`off` is handled by the daemon: no listener). */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(listen) ?? /^([^:]+):(\d+)$/.exec(listen) ?? /^()(\d+)$/.exec(listen);
  if (!m || Number(m[2]) > 65535)
    throw new ConfigError('CONFIG_INVALID', `agents.listen must be host:port, got ${JSON.stringify(listen)}`);
  return { host: m[1] || '0.0.0.0', port: Number(m[2]) };
}

/** Runtime files (socket, locks) live here, not in the backed-up state folder. */
export const RUN_DIR = '/run/ssr-recovery';

/** The control socket path (`agents.controlSocket`, default `/run/ssr-recovery/conductor-agent.sock`). */
export function controlSocketPath(config: ConductorConfig, path: (p: string) => string): string {
  return path(config.agents.controlSocket ?? join(RUN_DIR, 'conductor-agent.sock'));
}

/** The registry lock, shared by the daemon and the CLI (kept out of backups: a restored lock would look held). */
export function registryLockPath(path: (p: string) => string): string {
  return path(join(RUN_DIR, 'agent-registry.lock'));
}

export function createAgentService(o: AgentServiceOptions): AgentService {
  const log = o.logger.child({ component: 'agents' });
  let control: ControlServer | undefined;
  let events: { close?: () => void } | undefined;
  const svc: AgentService = {
    name: 'agents',
    async start() {
      const stateDir = o.path(o.config.agents.stateDir);
      const identity = await loadOrCreateConductorIdentity(stateDir);
      if (identity.created)
        log.info('created the conductor-agent identity', {
          signingKey: identity.signingFingerprint,
          cert: identity.certFingerprint,
        });
      const registry = await AgentRegistry.open(stateDir, { lockFile: registryLockPath(o.path) });
      const masterPub = join(o.path(o.config.salt.pkiDir), 'master.pub');
      const { host, port } = parseListen(o.config.agents.listen);
      const server = await startAgentServer({
        host,
        port,
        identity,
        registry,
        logger: log,
        heartbeatMs: o.config.agents.heartbeatMs,
        helloTimeoutMs: o.config.agents.helloTimeoutMs,
        limits: {
          maxHandshakes: o.config.agents.maxHandshakes,
          maxUnenrolled: o.config.agents.maxUnenrolled,
          unenrolledTtlMs: o.config.agents.unenrolledTtlMs,
        },
        masterFingerprint: () => pemFingerFile(masterPub).catch(() => undefined),
      });
      Object.assign(svc, { server, registry, identity });
      const sock = controlSocketPath(o.config, o.path);
      await ensureDir(dirname(sock), PRIVATE_DIR_MODE);
      // One salt-api client (one login) for every master-side confirmation, made on first use.
      let ping: ReturnType<typeof masterSidePing> | undefined;
      control = await startControlServer(sock, {
        fleet: async () => server.fleet(),
        reauth: async (a) => {
          const result = await reauthRouter({
            server,
            routerId: String(a.router),
            action: a.action === 'rollback' ? 'rollback' : 'reauth',
            // masterConfirm false: the caller confirms with test.ping itself (the fleet wave's batched ping,
            // migrate's repin through the new master's salt-api): no second ping here.
            ping:
              a.masterConfirm === false
                ? undefined
                : await (ping ??= masterSidePing(o, log).catch((err: unknown) => {
                    ping = undefined; // a failed set-up (e.g. the password file) is tried again next time
                    throw err;
                  })),
            fingerprint: typeof a.fingerprint === 'string' ? a.fingerprint : undefined,
            masterPubPath: masterPub,
            routerTimeoutMs:
              typeof a.timeoutMs === 'number' ? a.timeoutMs : Math.max(1000, o.config.agents.commandTimeoutMs - 30_000),
          });
          return a.brief === true ? briefResult(result) : result;
        },
        approve: async (a) => {
          const fingerprint = typeof a.fingerprint === 'string' ? a.fingerprint : '';
          const entry = await registry.approve(String(a.router), fingerprint);
          server.promote(entry.minionId);
          return entry;
        },
      });
      const stream = await (o.enrollEvents ?? (() => defaultEnrollEvents(o, log)))();
      if (stream) {
        events = stream;
        void runEnrollListener(stream, {
          registry,
          logger: log,
          pkiDir: o.path(o.config.salt.pkiDir),
          maxSkewMs: o.config.agents.enrollMaxSkewMs,
          onEnrolled: (id) => server.promote(id),
        }).catch((err: unknown) => log.warn('enrollment listener stopped', { err }));
      }
      log.info('serving router agents', {
        url: server.url,
        certFingerprint: identity.certFingerprint,
        signingKey: identity.signingFingerprint,
      });
    },
    async stop() {
      events?.close?.();
      await control?.close();
      await svc.server?.close();
      await svc.registry?.flush();
    },
  };
  return svc;
}

/** salt-api `test.ping` of one minion (the master's side of a re-authentication), when salt-api is configured. */
async function masterSidePing(
  o: AgentServiceOptions,
  log: Logger,
): Promise<((id: string) => Promise<boolean>) | undefined> {
  const { saltApiConfigured, saltApiClientFromConfig } = await import('../saltapi/index.js');
  if (!saltApiConfigured(o.config)) return undefined;
  const { minionPing } = await import('../verify/from-config.js');
  const ping = minionPing(await saltApiClientFromConfig(o.config, { path: o.path, logger: log }), 10);
  return async (id) => (await ping([id]))[id] === true;
}

async function defaultEnrollEvents(
  o: AgentServiceOptions,
  log: Logger,
): Promise<(AsyncIterable<{ raw: RawEventLike }> & { close: () => void }) | undefined> {
  const { saltApiConfigured, saltApiClientFromConfig, openSaltEvents } = await import('../saltapi/index.js');
  if (!saltApiConfigured(o.config)) {
    log.warn(
      'salt-api is not configured: router agents cannot enroll over Salt (set saltApi.username and saltApi.passwordFile)',
    );
    return undefined;
  }
  const client = await saltApiClientFromConfig(o.config, { path: o.path, logger: log });
  return openSaltEvents(client, { tags: [ENROLL_TAG], logger: log });
}
