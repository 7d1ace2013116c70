/**
 * Two SSR conductors on loopback for the migrate drill, tests and the benchmark: the old one (a real
 * sandbox conductor tree with its Salt master pki) and the new one (a second address, plus a third for
 * an HA pair), each a real SSR simulator over HTTP with its PCLI bridge, sharing one router world; TCP
 * listeners stand in for ports 930/4505/4506 on every new address (930 needs root, so the ports are
 * ephemeral and written to `verify.ports`); a config file for the old conductor's agent. The new
 * conductor carries the old master key pair unless `sameKey: false` (as a restore from the backup
 * leaves it). Everything closes in `close()`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { makeConductorTree, rsaPair } from '../conductor-tree.js';
import { emptyAuthority, type SimAuthority } from './authority.js';
import { writePcliBridge } from './pcli-bridge.js';
import { startSsrSimulator, type SsrSimulator } from './server.js';
import { SsrWorld } from './world.js';

export interface ConductorPair {
  dir: string;
  oldRoot: string;
  newRoot: string;
  world: SsrWorld;
  oldSim: SsrSimulator;
  newSim: SsrSimulator;
  routerNames: string[];
  /** The minion key every router presents (one shared key keeps setup fast). */
  minionPub: string;
  ports: number[];
  to: string[];
  configFile: string;
  close(): Promise<void>;
}

export interface ConductorPairOptions {
  routers: number;
  /** Old conductor address, new address, second new address (HA). */
  addresses: { old: string; new: string; new2: string };
  /** Parent folder (default: a new temp folder, removed by close() unless `keep`). */
  dir?: string;
  keep?: boolean;
  ha?: boolean;
  /** The new master carries the old key pair (default true). */
  sameKey?: boolean;
  /** Extra `migrate:` settings for the config file. */
  migrate?: Record<string, unknown>;
  delays?: { pendingMs: number; connectedMs: number };
}

async function listenSame(addresses: string[]): Promise<{ ports: number[]; servers: Server[] }> {
  for (let attempt = 0; ; attempt++) {
    const servers: Server[] = [];
    try {
      const ports: number[] = [];
      for (let i = 0; i < 3; i++) {
        const s = createServer((c) => c.destroy());
        await new Promise<void>((res, rej) => {
          s.once('error', rej);
          s.listen(0, addresses[0], () => res());
        });
        servers.push(s);
        ports.push((s.address() as { port: number }).port);
      }
      for (const a of addresses.slice(1)) {
        for (const p of ports) {
          const s = createServer((c) => c.destroy());
          await new Promise<void>((res, rej) => {
            s.once('error', rej);
            s.listen(p, a, () => res());
          });
          servers.push(s);
        }
      }
      return { ports, servers };
    } catch (err) {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
      if (attempt > 5) throw err;
    }
  }
}

function authorityOf(names: string[], addresses: string[]): SimAuthority {
  return {
    ...emptyAuthority('lab'),
    'conductor-address': addresses,
    router: names.map((name) => ({ name, node: [{ name: 'node0', 'asset-id': name }] })),
  };
}

export async function startConductorPair(o: ConductorPairOptions): Promise<ConductorPair> {
  const OLD_ADDR = o.addresses.old;
  const NEW_ADDR = o.addresses.new;
  const NEW_ADDR_2 = o.addresses.new2;
  const dir = o.dir ?? (await mkdtemp(join(tmpdir(), 'ssr-migrate-')));
  const cleanup = async (): Promise<void> => {
    if (!o.keep) await rm(dir, { recursive: true, force: true });
  };
  const oldRoot = join(dir, 'old');
  const newRoot = join(dir, 'new');
  const tree = await makeConductorTree(oldRoot, {
    routers: 0,
    minions: 0,
    states: 2,
    host: OLD_ADDR,
    conductorName: 'lab',
    nodeName: 'lab-a',
  });
  const minionPub = rsaPair(1024).publicKey;
  const routerNames = Array.from({ length: o.routers }, (_, i) => `r${String(i + 1).padStart(4, '0')}`);
  const oldPki = join(oldRoot, 'etc/128technology/salt/pki/master');
  await Promise.all(routerNames.map((n) => writeFile(join(oldPki, 'minions', n), minionPub)));
  const newPki = join(newRoot, 'etc/128technology/salt/pki/master');
  for (const d of ['minions', 'minions_pre', 'minions_rejected']) await mkdir(join(newPki, d), { recursive: true });
  await mkdir(join(newRoot, 'etc/128technology/config-exports'), { recursive: true });
  const newPair = o.sameKey === false ? rsaPair(1024) : { publicKey: tree.masterPub, privateKey: tree.masterPem };
  await writeFile(join(newPki, 'master.pub'), newPair.publicKey);
  await writeFile(join(newPki, 'master.pem'), newPair.privateKey, { mode: 0o600 });

  const world = new SsrWorld();
  if (o.delays) world.delays = o.delays;
  for (const n of routerNames) world.addRouter(n, [{ name: 'node0', assetId: n, minionPub }], [OLD_ADDR]);
  const to = o.ha ? [NEW_ADDR, NEW_ADDR_2] : [NEW_ADDR];
  const oldSim = await startSsrSimulator({
    root: oldRoot,
    host: OLD_ADDR,
    world,
    addresses: [OLD_ADDR],
    authority: authorityOf(routerNames, [OLD_ADDR]),
    pkiDir: oldPki,
    users: { admin: 'old-pw' },
    softwareVersion: '6.2.5-5.r2',
  });
  const newSim = await startSsrSimulator({
    root: newRoot,
    host: NEW_ADDR,
    world,
    addresses: to,
    pkiDir: newPki,
    users: { admin: 'new-pw' },
    softwareVersion: '6.3.0-107.r1',
  });
  const { ports, servers } = await listenSame(to);
  const secrets = join(oldRoot, 'etc/ssr-recovery');
  await mkdir(secrets, { recursive: true, mode: 0o700 });
  await writeFile(join(secrets, 'ssr.pw'), 'old-pw\n', { mode: 0o600 });
  await writeFile(join(secrets, 'ssr-new.pw'), 'new-pw\n', { mode: 0o600 });
  const config = {
    ssr: {
      url: oldSim.url,
      username: 'admin',
      passwordFile: '/etc/ssr-recovery/ssr.pw',
      pcliCommand: await writePcliBridge(join(dir, 'pcli-old'), oldSim.url, oldSim.pcliSecret),
    },
    verify: { ports },
    agents: { stateDir: '/var/lib/ssr-recovery' },
    migrate: {
      rate: 500,
      concurrency: 64,
      pollMs: 40,
      connectedTimeoutSeconds: 20,
      runningTimeoutSeconds: 20,
      to: {
        ssrUrl: newSim.url,
        passwordFile: '/etc/ssr-recovery/ssr-new.pw',
        pcliCommand: await writePcliBridge(join(dir, 'pcli-new'), newSim.url, newSim.pcliSecret),
      },
      transfer: { method: 'local', localRoot: newRoot },
      ...o.migrate,
    },
  };
  const configFile = join(oldRoot, 'etc/ssr-recovery/conductor-agent.yaml');
  await writeFile(configFile, stringify(config), { mode: 0o600 });
  return {
    dir,
    oldRoot,
    newRoot,
    world,
    oldSim,
    newSim,
    routerNames,
    minionPub,
    ports,
    to,
    configFile,
    async close() {
      await Promise.all([oldSim.close(), newSim.close(), ...servers.map((s) => new Promise((r) => s.close(r)))]);
      await cleanup();
    },
  };
}
