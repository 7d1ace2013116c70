/**
 * The narrow interface to the proprietary SSR conductor (reference/ssr.md §4, §7): what recovery
 * needs from it and nothing more. Real hosts use {@link createHttpSsrConductor} (REST + GraphQL);
 * tests and the drill use the SSR simulator in sandbox/ssr-simulator/.
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

export interface SsrConductor {
  system(): Promise<SsrSystemInfo>;
  /** Every asset (router node) known to this conductor. */
  assets(): Promise<AssetState[]>;
  /** Load `/etc/128technology/config-exports/<name>` into the candidate config (PCLI `import config`). */
  importConfig(exportName: string): Promise<void>;
  /** Commit the candidate config (PCLI `commit`); throws with the validation messages on failure. */
  commit(): Promise<void>;
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
