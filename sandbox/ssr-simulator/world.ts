/**
 * The SSR world the simulators share: which conductor address(es) each router follows and the router
 * state machine the published pages describe (reference/ssr.md §1.4, §2.2, §7). A router that is told
 * to migrate goes DISCONNECTED on the conductor it left and PENDING → CONNECTED → RUNNING on the one it
 * joined; on joining, its minion key lands in that master's `minions_pre/` (or stays accepted if the
 * master already holds the same key), and it reaches RUNNING only once that key is accepted, as a
 * minion does (its highstate needs the master). Delays are configurable; failures are injectable.
 */
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface WorldNode {
  name: string;
  assetId: string;
  /** The minion's public key (PEM) it presents to a master. */
  minionPub: string;
}

export interface WorldRouter {
  name: string;
  nodes: WorldNode[];
  /** Conductor addresses the router follows (its `conductor-address`). */
  conductors: string[];
  /** When it last started following them (ms). */
  since: number;
  /** Conductor key (sorted addresses) it reached RUNNING on, cached. */
  runningOn?: string;
  /** The conductor addresses it started on. */
  home: string[];
}

export interface WorldConductor {
  /** The conductor's own node address(es) (an HA pair has two). */
  addresses: string[];
  /** Its Salt master pki folder, when minion keys should be modelled. */
  pkiDir?: string | undefined;
  /**
   * false: a real Salt master (simulator) runs over `pkiDir` and writes the minions' keys itself; the
   * world only reads them (default true: the world deposits each joining node's key in minions_pre/).
   */
  depositKeys?: boolean | undefined;
  /** Router names in its running configuration. */
  configured(): Set<string>;
}

export interface WorldFaults {
  /** Routers that reach CONNECTED on a conductor they did not start on and never RUNNING there. */
  stuckConnected: Set<string>;
  /** Routers whose `migrate` the PCLI refuses. */
  migrateRefused: Set<string>;
}

export class SsrWorld {
  readonly routers = new Map<string, WorldRouter>();
  readonly conductors: WorldConductor[] = [];
  readonly faults: WorldFaults = { stuckConnected: new Set(), migrateRefused: new Set() };
  /** How long a joining router stays PENDING, then CONNECTED at least (ms). */
  delays = { pendingMs: 50, connectedMs: 50 };

  constructor(readonly now: () => number = () => Date.now()) {}

  /** Add a router that has long been running on `conductors`. */
  addRouter(name: string, nodes: WorldNode[], conductors: string[]): WorldRouter {
    const r: WorldRouter = { name, nodes, conductors: [...conductors], since: 0, home: [...conductors] };
    this.routers.set(name, r);
    return r;
  }

  register(c: WorldConductor): void {
    this.conductors.push(c);
  }

  conductorAt(address: string): WorldConductor | undefined {
    return this.conductors.find((c) => c.addresses.includes(address));
  }

  /** Called after every accepted migrate (failure injection: "the API goes away after the n-th router"). */
  onMigrate: ((router: string, count: number) => void) | undefined;
  private migrations = 0;

  /** What `migrate conductor <addresses> router <name>` does once the PCLI accepted it. */
  migrate(name: string, addresses: string[]): void {
    const r = this.routers.get(name);
    if (!r) return;
    r.conductors = [...addresses];
    r.since = this.now();
    delete r.runningOn;
    this.onMigrate?.(name, ++this.migrations);
  }

  /** Upper-case status of `router` as conductor `c` sees it (GraphQL style). */
  async status(c: WorldConductor, r: WorldRouter, node: WorldNode): Promise<string> {
    const key = [...c.addresses].sort().join(',');
    if (!r.conductors.some((a) => c.addresses.includes(a))) return 'DISCONNECTED';
    if (r.runningOn === key) return 'RUNNING';
    const elapsed = this.now() - r.since;
    if (elapsed < this.delays.pendingMs) return 'PENDING';
    const keys =
      c.pkiDir === undefined
        ? ['accepted']
        : await Promise.all(r.nodes.map((n) => this.presentKey(c.pkiDir!, n, c.depositKeys !== false)));
    const away = !r.home.some((a) => c.addresses.includes(a));
    if (away && this.faults.stuckConnected.has(r.name)) return 'CONNECTED';
    if (keys.some((k) => k !== 'accepted') || elapsed < this.delays.pendingMs + this.delays.connectedMs) {
      return 'CONNECTED';
    }
    void node;
    r.runningOn = key;
    return 'RUNNING';
  }

  /**
   * The minion knocks: `accepted` when the master holds this very key, `refused` when it holds another,
   * else the key waits in minions_pre/ (`pending`), as Salt's master does it.
   */
  private async presentKey(
    pkiDir: string,
    node: WorldNode,
    deposit: boolean,
  ): Promise<'accepted' | 'pending' | 'refused'> {
    // Synchronous on purpose: 2,000 small reads per assets query cost less than 2,000 thread-pool hops.
    const accepted = readOptionalSync(join(pkiDir, 'minions', node.assetId));
    if (accepted !== undefined) return accepted === node.minionPub ? 'accepted' : 'refused';
    const pre = join(pkiDir, 'minions_pre', node.assetId);
    if (deposit && !this.deposited.has(pre)) {
      await fsp.mkdir(join(pkiDir, 'minions_pre'), { recursive: true });
      await fsp.writeFile(pre, node.minionPub, { mode: 0o644 });
      this.deposited.add(pre);
    }
    return 'pending';
  }

  private readonly deposited = new Set<string>();
}

function readOptionalSync(path: string): string | undefined {
  if (!existsSync(path)) return undefined; // no exception (and stack) per missing key
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
