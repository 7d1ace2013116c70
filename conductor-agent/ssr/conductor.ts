/**
 * The narrow interface to the proprietary SSR conductor (reference/ssr.md §2, §4, §7): what recovery
 * and migration need from it and nothing more. Real hosts use {@link createHttpSsrConductor} (REST +
 * GraphQL, and the PCLI through a configured command template for what has no API); tests and the
 * drill point the same client at the SSR simulator in sandbox/ssr-simulator/.
 */

/** One router node's asset as the conductor sees it. */
export interface AssetState {
  routerName: string;
  nodeName: string;
  assetId: string;
  /** Lower-cased status (`connected`, `running`, `disconnected`, …); unknown values are kept as they are. */
  status: string;
  text?: string;
}

export interface SsrSystemInfo {
  /** The conductor's router name. */
  router?: string;
  softwareVersion?: string;
}

/** One router of the authority's configuration, with the asset (minion) ids of its nodes. */
export interface ConfiguredRouter {
  name: string;
  nodes: Array<{ name: string; assetId?: string | undefined }>;
}

/** The authority facts migration reads from a conductor's config (reference/ssr.md §5.1, §6). */
export interface AuthorityFacts {
  name?: string | undefined;
  /** `authority conductor-address` (at most two). */
  conductorAddresses: string[];
  routers: ConfiguredRouter[];
}

export interface MigrateRouterOptions {
  /** PCLI `force`: skip the confirmation prompt (needed when no one is at a terminal). */
  force?: boolean;
  /** PCLI `skip-validation`. */
  skipValidation?: boolean;
}

export interface SsrConductor {
  /** Log in now (the other calls log in on first use); throws SSR_API_AUTH / SSR_API_UNAVAILABLE. */
  login(): Promise<void>;
  system(): Promise<SsrSystemInfo>;
  /** The conductor's software version (`GET /system` softwareVersion), if it tells. */
  version(): Promise<string | undefined>;
  /** Every asset (router node) known to this conductor. */
  assets(): Promise<AssetState[]>;
  /** Router names in the running configuration (`GET /router`). */
  routers(): Promise<string[]>;
  /** The running authority: name, conductor addresses, routers and their nodes' asset ids. */
  authority(): Promise<AuthorityFacts>;
  /** True when the candidate config holds uncommitted changes. */
  candidateDirty(): Promise<boolean>;
  /** Export the running config to `/etc/128technology/config-exports/<name>` (PCLI `export config running`). */
  exportConfig(exportName: string): Promise<void>;
  /** Load `/etc/128technology/config-exports/<name>` into the candidate config (PCLI `import config`). */
  importConfig(exportName: string): Promise<void>;
  /** Set `authority conductor-address` in the candidate config. */
  setConductorAddresses(addresses: readonly string[]): Promise<void>;
  /** Validate the candidate config: the messages, empty when valid. */
  validate(): Promise<string[]>;
  /** Commit the candidate config (PCLI `commit`); throws SSR_COMMIT_FAILED with the messages on failure. */
  commit(): Promise<void>;
  /** Drop uncommitted candidate changes (PCLI `restore config running`). */
  revertCandidate(): Promise<void>;
  /** PCLI `migrate [skip-validation] [force] conductor <a1> [<a2>] router <r>`, run on this conductor. */
  migrateRouter(router: string, addresses: readonly string[], options?: MigrateRouterOptions): Promise<void>;
  /** `systemctl stop|start 128T` on this conductor (configured service commands). */
  service(action: 'stop' | 'start'): Promise<void>;
}

/**
 * How a status reads for recovery (reference/ssr.md §7: the list is unconfirmed and capitalisation
 * varies, so match case-insensitively and treat unknown values as still in progress).
 */
export function assetPhase(status: string): 'running' | 'connected' | 'down' | 'in-progress' {
  const s = status.toLowerCase();
  if (s === 'running' || s === 'resynchronizing') return 'running';
  if (s === 'connected' || s === 'synchronizing' || s === 'key-accepted') return 'connected';
  if (s === 'disconnected' || s === 'not-installed') return 'down';
  return 'in-progress';
}

/** Router names the PCLI and REST paths accept (reference/ssr.md §5.2 node-name rule). */
export const ROUTER_NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]){0,62}$/;
/** A conductor address: an IPv4/IPv6 literal or a DNS name, nothing a command line could misread. */
export const CONDUCTOR_ADDRESS =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*|[0-9A-Fa-f:.]{2,45})$/;
