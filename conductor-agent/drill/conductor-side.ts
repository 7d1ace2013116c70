/**
 * The drill's conductor: on one loopback address, a Salt master (simulator over the real pki
 * folder under the conductor root), salt-api (emulator), the SSR API (simulator) and the
 * conductor-agent's own parts (identity and registry from its state folder, the wss agent server,
 * the enrollment listener on salt-api /events). Ports are fixed for the life of the sandbox, so
 * routers configured once reach the rebuilt conductor at the same address, as in the seed's
 * "same IP" procedure.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { stringify } from 'yaml';
import { SaltMasterSim } from '../../sandbox/salt/master.js';
import { startSaltApiEmulator, type SaltApiEmulator } from '../../sandbox/saltapi-emulator/server.js';
import { SANDBOX_CLIENTS } from '../../sandbox/saltapi-emulator/sandbox.js';
import { startSsrSimulator, type SsrSimulator, type SimAsset } from '../../sandbox/ssr-simulator/server.js';
import { loadOrCreateConductorIdentity, type ConductorAgentIdentity } from '../identity/agent-key.js';
import { AgentRegistry } from '../registry/store.js';
import { runEnrollListener } from '../registry/enroll-listener.js';
import { startAgentServer, type AgentServer } from '../ws/server.js';
import { SaltApiClient } from '../saltapi/client.js';
import { openSaltEvents, type SaltEventStream } from '../saltapi/events.js';
import { pemFingerFile } from '../../shared/salt/fingerprint.js';
import { underRoot } from '../../shared/config/schema.js';
import type { Logger } from '../../shared/log/logger.js';
import type { ServiceControl } from '../../shared/ports/service-control.js';
import { EVENT_TAGS } from '../../shared/salt/event-tags.js';

export interface ConductorPorts {
  master: number;
  api: number;
  ssr: number;
  agents: number;
}

export interface ConductorSideOptions {
  root: string;
  host: string;
  ports: ConductorPorts;
  apiUser: string;
  apiSecret: string;
  ssrPassword: string;
  conductorName: string;
  /** Router names the SSR config knows (asset ids = minion ids). */
  routers: string[];
  logger: Logger;
  /** Agent channel heartbeat (short in the sandbox so dead peers show quickly). */
  heartbeatMs: number;
}

export const PKI_DIR = '/etc/128technology/salt/pki/master';
export const MASTER_CONFIG = '/etc/128technology/salt/master';
export const STATE_DIR = '/var/lib/ssr-recovery';

/** Write what the SSR installer and our salt state leave on a conductor: master and agent configuration. */
export async function writeConductorConfig(o: ConductorSideOptions): Promise<void> {
  const p = (s: string): string => underRoot(o.root, s);
  await mkdir(dirname(p(MASTER_CONFIG)), { recursive: true });
  await writeFile(
    p(MASTER_CONFIG),
    stringify({
      interface: o.host,
      netapi_enable_clients: SANDBOX_CLIENTS,
      external_auth: { sharedsecret: { [o.apiUser]: ['.*', '@jobs', '@runner', '@wheel'] } },
      rest_cherrypy: { port: o.ports.api, host: o.host, disable_ssl: true },
      timeout: 5,
    }),
  );
  await mkdir(p('/etc/ssr-recovery'), { recursive: true, mode: 0o700 });
  await writeFile(p('/etc/ssr-recovery/salt-api.secret'), `${o.apiSecret}\n`, { mode: 0o600 });
  await writeFile(p('/etc/ssr-recovery/ssr.password'), `${o.ssrPassword}\n`, { mode: 0o600 });
  await writeFile(
    p('/etc/ssr-recovery/conductor-agent.yaml'),
    stringify({
      saltApi: {
        url: `http://${o.host}:${o.ports.api}`,
        eauth: 'sharedsecret',
        username: o.apiUser,
        passwordFile: '/etc/ssr-recovery/salt-api.secret',
        timeoutMs: 15000,
      },
      ssr: {
        url: `http://${o.host}:${o.ports.ssr}`,
        username: 'admin',
        passwordFile: '/etc/ssr-recovery/ssr.password',
      },
      agents: { listen: `${o.host}:${o.ports.agents}`, stateDir: STATE_DIR },
      verify: { ports: [o.ports.master, o.ports.api, o.ports.agents], hosts: [o.host], timeoutSeconds: 60 },
      services: { '128T': { start: 'true', stop: 'true', isActive: 'true' } },
    }),
  );
}

/** The running conductor services; `stop128T`/`start128T` are what restore drives. */
export class ConductorSide {
  master!: SaltMasterSim;
  api: SaltApiEmulator | undefined;
  ssr: SsrSimulator | undefined;
  agents: AgentServer | undefined;
  identity: ConductorAgentIdentity | undefined;
  registry: AgentRegistry | undefined;
  client: SaltApiClient | undefined;
  private events: SaltEventStream | undefined;
  private listener: Promise<void> | undefined;
  private ssrUp = false;

  constructor(readonly o: ConductorSideOptions) {}

  path(s: string): string {
    return underRoot(this.o.root, s);
  }

  /** Salt master + salt-api + SSR API: what `systemctl start 128T` brings up on a conductor. */
  async start128T(): Promise<void> {
    this.master = new SaltMasterSim({
      pkiDir: this.path(PKI_DIR),
      configFile: this.path(MASTER_CONFIG),
      host: this.o.host,
      port: this.o.ports.master,
    });
    await this.master.start();
    this.api = await startSaltApiEmulator({
      master: this.master,
      host: this.o.host,
      port: this.o.ports.api,
      users: { [this.o.apiUser]: this.o.apiSecret },
      eauth: 'sharedsecret',
    });
    this.ssrUp = true;
    if (!this.ssr) {
      this.ssr = await startSsrSimulator({
        root: this.o.root,
        host: this.o.host,
        port: this.o.ports.ssr,
        users: { admin: this.o.ssrPassword },
        routerName: this.o.conductorName,
        assets: () => this.assets(),
        running: () => this.ssrUp,
      });
    }
  }

  async stop128T(): Promise<void> {
    this.ssrUp = false;
    await this.api?.close();
    this.api = undefined;
    if (this.master?.running) await this.master.stop();
  }

  /** In-process service control for restore (stop order: 128T). */
  service(): ServiceControl {
    return {
      name: '128T',
      start: () => this.start128T(),
      stop: () => this.stop128T(),
      restart: async () => {
        await this.stop128T();
        await this.start128T();
      },
      isActive: async () => this.ssrUp && Boolean(this.master?.running),
    };
  }

  /** Asset status as the conductor would show it: a router whose minion is connected and authenticated runs. */
  assets(): SimAsset[] {
    const connected = new Set(this.master?.running ? this.master.connected() : []);
    return this.o.routers.map((r) => ({
      routerName: r,
      nodeName: 'node0',
      assetId: r,
      status: connected.has(r) ? 'RUNNING' : 'DISCONNECTED',
    }));
  }

  /** The conductor-agent: identity + registry from the state folder, wss server, enrollment listener. */
  async startAgent(): Promise<void> {
    const stateDir = this.path(STATE_DIR);
    this.identity = await loadOrCreateConductorIdentity(stateDir, { commonName: this.o.conductorName });
    this.registry = await AgentRegistry.open(stateDir);
    this.agents = await startAgentServer({
      host: this.o.host,
      port: this.o.ports.agents,
      identity: this.identity,
      registry: this.registry,
      heartbeatMs: this.o.heartbeatMs,
      logger: this.o.logger,
      masterFingerprint: async () => pemFingerFile(this.path(`${PKI_DIR}/master.pub`)).catch(() => undefined),
    });
    this.client = new SaltApiClient({
      url: `http://${this.o.host}:${this.o.ports.api}`,
      username: this.o.apiUser,
      password: async () => this.o.apiSecret,
      eauth: 'sharedsecret',
      timeoutMs: 15000,
    });
    this.events = openSaltEvents(this.client, {
      tags: [EVENT_TAGS.agentEnroll],
      maxDelayMs: 1000,
      logger: this.o.logger,
    });
    const agents = this.agents;
    this.listener = runEnrollListener(this.events, {
      registry: this.registry,
      logger: this.o.logger,
      pkiDir: this.path(PKI_DIR),
      onEnrolled: (id) => agents.promote(id),
    }).catch(() => undefined);
  }

  async stopAgent(): Promise<void> {
    this.events?.close();
    await this.listener;
    await this.agents?.close();
    await this.client?.close();
    this.agents = undefined;
    this.events = undefined;
    this.client = undefined;
  }

  async close(): Promise<void> {
    await this.stopAgent().catch(() => undefined);
    await this.stop128T().catch(() => undefined);
    await this.ssr?.close();
    this.ssr = undefined;
  }
}
