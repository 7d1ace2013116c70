/**
 * The only system paths a restore may write: the backup's file set (the seed's files, the whole
 * master pki folder, custom states and pillars, config exports, our own state)
 * plus configured extra paths. The allowlist comes from configuration, never from the archive: an
 * archive (and its manifest) is untrusted input.
 */
import { posix } from 'node:path';
import { CONDUCTOR_FILES } from '../../shared/ssr/layout.js';

export interface Allowlist {
  /** Exact files that may be written. */
  files: ReadonlySet<string>;
  /** Folders whose whole subtree may be written. */
  trees: readonly string[];
}

export interface AllowlistInput {
  pkiDir: string;
  stateDir: string;
  /** backup.extraPaths + restore.extraPaths (files or folders). */
  extraPaths?: readonly string[];
}

/** Build the allowlist from configuration. */
export function buildAllowlist(input: AllowlistInput): Allowlist {
  const pki = input.pkiDir.replace(/\/+$/, '');
  const files = new Set<string>([
    CONDUCTOR_FILES.runningConfig,
    CONDUCTOR_FILES.userRunning,
    CONDUCTOR_FILES.globalInit,
    CONDUCTOR_FILES.localInit,
  ]);
  const trees = [
    // The backup takes the master pki folder whole (keys, signing keys, every minions* folder).
    pki,
    CONDUCTOR_FILES.srvSalt,
    CONDUCTOR_FILES.srvPillar,
    // Our backups keep a real /svr/salt folder under its own name (seed archives map it to /srv/salt).
    CONDUCTOR_FILES.svrSalt,
    CONDUCTOR_FILES.configExports,
    input.stateDir,
    ...(input.extraPaths ?? []),
  ].map((p) => posix.normalize(p).replace(/\/+$/, ''));
  return { files, trees };
}

/** True when `systemPath` (normalised, absolute) may be written as a file, link or folder. */
export function isAllowed(list: Allowlist, systemPath: string): boolean {
  if (list.files.has(systemPath)) return true;
  return list.trees.some((t) => systemPath === t || systemPath.startsWith(t + '/'));
}

/**
 * True when `systemPath` is a folder on the way to an allowed path (`/etc`, `/etc/128technology`).
 * Such folders may appear as directory members; restore creates them when missing and never
 * changes an existing one.
 */
export function isAncestorOfAllowed(list: Allowlist, systemPath: string): boolean {
  const prefix = systemPath === '/' ? '/' : systemPath + '/';
  for (const f of list.files) if (f.startsWith(prefix)) return true;
  return list.trees.some((t) => t.startsWith(prefix));
}
