/**
 * Where things live on an SSR conductor and router (reference/ssr.md §3.3, §5.1, §8), as absolute
 * system paths. Resolve them under the root prefix with `underRoot`/`Loaded.path`.
 */

/** The conductor files the seed's backup procedure names (its bugs fixed). */
export const CONDUCTOR_FILES = {
  runningConfig: '/var/lib/128technology/t128-running.json',
  userRunning: '/var/lib/128technology/user-running.json',
  globalInit: '/etc/128technology/global.init',
  localInit: '/etc/128technology/local.init',
  configExports: '/etc/128technology/config-exports',
  /** Custom salt states (`base` file_roots). */
  srvSalt: '/srv/salt',
  /** Custom pillars. */
  srvPillar: '/srv/pillar',
  /** The seed's typo for /srv/salt: included when it exists, accepted in old tarballs. */
  svrSalt: '/svr/salt',
  /** Where the seed writes backups. */
  backupDir: '/var/log/128technology',
} as const;

/** Master pki folder members (relative to `salt.pkiDir`). */
export const MASTER_PKI = {
  privateKey: 'master.pem',
  publicKey: 'master.pub',
  signPrivateKey: 'master_sign.pem',
  signPublicKey: 'master_sign.pub',
  /** Precomputed signature file name (3006/3007 default). */
  pubkeySignature: 'master_pubkey_signature',
  accepted: 'minions',
  pending: 'minions_pre',
  rejected: 'minions_rejected',
  denied: 'minions_denied',
} as const;

/** Router-side Salt paths (defaults of the `minion.*` config keys). */
export const ROUTER_FILES = {
  minionConfigDir: '/etc/salt',
  minionConfig: '/etc/salt/minion',
  minionDropInDir: '/etc/salt/minion.d',
  minionId: '/etc/salt/minion_id',
  minionPkiDir: '/etc/salt/pki/minion',
  /** Relative to the minion pki folder. */
  cachedMasterKey: 'minion_master.pub',
  minionLog: '/var/log/salt/minion',
  globalInit: '/etc/128technology/global.init',
} as const;

/** Parsed `global.init` / `local.init` (only the fields we use; reference/ssr.md §5.1). */
export interface GlobalInit {
  init?: {
    routerName?: string;
    control?: Record<string, { host?: string }>;
    conductor?: Record<string, { host?: string }>;
  };
}
export interface LocalInit {
  init?: { id?: string };
}

/** Conductor hosts listed in a global.init (1, or 2 for HA), sorted by node name as SSR tools do. */
export function conductorHosts(g: GlobalInit): string[] {
  const entries = Object.entries(g.init?.conductor ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return entries.map(([, v]) => v.host).filter((h): h is string => typeof h === 'string' && h.length > 0);
}
