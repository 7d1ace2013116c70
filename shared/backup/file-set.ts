/**
 * The conductor file set: the one definition of what a backup takes and what a restore may write.
 * `backup create` plans its sources from it, restore and `backup verify` build their allowlist
 * from it, and docs/restore.md lists it. Add a file to the backup set here, nowhere else.
 *
 * It is the seed's file set with its bugs fixed (the `/svr/salt` typo is taken under its own name
 * and seed archives map it to `/srv/salt`), plus what the seed forgot: the whole master pki folder,
 * pillars, config exports, our own state (signing key, TLS key, router registry), kept master-key
 * rotations and the operator's extra paths. It also names the private areas (no link may point
 * into or out of them; files 0600, folders 0700) and the Salt file roots (served to every minion:
 * no link under them may leave them).
 */
import { posix } from 'node:path';
import { CONDUCTOR_FILES, MASTER_PKI } from '../ssr/layout.js';

/** The configuration the file set depends on (all absolute system paths). */
export interface FileSetConfig {
  /** `salt.pkiDir`. */
  pkiDir: string;
  /** `agents.stateDir`. */
  stateDir: string;
  /** `keys.rotationsDir` when set (default: inside the state folder). */
  rotationsDir?: string | undefined;
  /** `backup.extraPaths` (backed up and restorable). */
  extraPaths?: readonly string[];
  /** `restore.extraPaths` (restorable only). */
  restoreExtraPaths?: readonly string[];
}

/** What the file set needs from a loaded configuration (structural, so shared/ stays schema-free). */
export interface FileSetConfigSource {
  salt: { pkiDir: string };
  agents: { stateDir: string };
  keys?: { rotationsDir?: string | undefined } | undefined;
  backup: { extraPaths: readonly string[] };
  restore?: { extraPaths?: readonly string[] } | undefined;
}

export function fileSetConfigOf(c: FileSetConfigSource): FileSetConfig {
  return {
    pkiDir: c.salt.pkiDir,
    stateDir: c.agents.stateDir,
    rotationsDir: c.keys?.rotationsDir,
    extraPaths: c.backup.extraPaths,
    restoreExtraPaths: c.restore?.extraPaths ?? [],
  };
}

export interface FileSetItem {
  /** Absolute system path (not under --root). */
  systemPath: string;
  /** Missing required items fail the backup; missing optional ones are listed in the report. */
  required: boolean;
  /** What must be found there: a regular file, a folder (taken whole), or either. */
  kind: 'file' | 'dir' | 'any';
  /** Why it is in the set (shown when it is missing, and in the docs). */
  why: string;
  /** `check`: inside an item already taken whole; only checked for presence by the backup. */
  role: 'take' | 'check';
  /** Private area: links may not cross its edge, files are written 0600 in 0700 folders. */
  private?: boolean;
  /** A Salt file root (served to minions): links under it may not leave the file roots. */
  fileRoot?: boolean;
}

const clean = (p: string): string => posix.normalize(p).replace(/(.)\/+$/, '$1');
const join = (dir: string, name: string): string => `${clean(dir)}/${name}`;
const under = (p: string, dir: string): boolean => p === dir || p.startsWith(dir === '/' ? '/' : `${dir}/`);

/**
 * Every item, in archive order (small identity files first). Backup takes the `take` items;
 * the `check` items only make sure what a restore needs is inside the pki folder.
 */
export function conductorFileSet(c: FileSetConfig): FileSetItem[] {
  const pki = clean(c.pkiDir);
  const f = CONDUCTOR_FILES;
  const ownRotations = c.rotationsDir !== undefined && !under(clean(c.rotationsDir), clean(c.stateDir));
  const rotations = ownRotations ? [clean(c.rotationsDir!)] : [];
  const check = (systemPath: string, kind: 'file' | 'dir', why: string): FileSetItem => ({
    systemPath,
    required: true,
    kind,
    why,
    role: 'check',
  });
  return [
    { systemPath: f.globalInit, required: true, kind: 'file', why: 'conductor identity (global.init)', role: 'take' },
    { systemPath: f.localInit, required: true, kind: 'file', why: 'node identity (local.init)', role: 'take' },
    { systemPath: f.runningConfig, required: true, kind: 'file', why: 'running configuration', role: 'take' },
    { systemPath: f.userRunning, required: true, kind: 'file', why: 'user configuration', role: 'take' },
    // The whole pki folder (master_sign.*, minions_pre/, minions_rejected/, minions_denied/ too).
    { systemPath: pki, required: true, kind: 'dir', why: 'Salt master pki folder', role: 'take', private: true },
    check(join(pki, MASTER_PKI.privateKey), 'file', 'Salt master private key'),
    check(join(pki, MASTER_PKI.publicKey), 'file', 'Salt master public key'),
    check(join(pki, MASTER_PKI.accepted), 'dir', 'accepted minion keys'),
    { systemPath: f.configExports, required: false, kind: 'dir', why: 'exported configurations', role: 'take' },
    { systemPath: f.srvSalt, required: false, kind: 'dir', why: 'custom Salt states', role: 'take', fileRoot: true },
    { systemPath: f.srvPillar, required: false, kind: 'dir', why: 'custom Salt pillars', role: 'take', fileRoot: true },
    // Our backups keep a real /svr/salt folder under its own name (seed archives map it to /srv/salt).
    {
      systemPath: f.svrSalt,
      required: false,
      kind: 'dir',
      why: "the seed's /svr/salt folder",
      role: 'take',
      fileRoot: true,
    },
    {
      systemPath: clean(c.stateDir),
      required: false,
      kind: 'dir',
      role: 'take',
      private: true,
      why: 'conductor-agent state (signing key, TLS key, router registry, kept key rotations)',
    },
    ...rotations.map(
      (p): FileSetItem => ({
        systemPath: p,
        required: false,
        kind: 'dir',
        why: 'kept master-key rotations (keys.rotationsDir)',
        role: 'take',
        private: true,
      }),
    ),
    ...(c.extraPaths ?? []).map(
      (p): FileSetItem => ({
        systemPath: clean(p),
        required: true,
        kind: 'any',
        why: 'backup.extraPaths',
        role: 'take',
      }),
    ),
  ];
}

/** The only system paths a restore may write (from configuration, never from the archive). */
export interface Allowlist {
  /** Exact files that may be written. */
  files: ReadonlySet<string>;
  /** Folders whose whole subtree may be written. */
  trees: readonly string[];
  /** Private areas (pki folder, agent state, kept rotations): no link crosses their edge. */
  privateAreas: readonly string[];
  /** Salt file roots: no link under them leaves them. */
  fileRoots: readonly string[];
  /** Paths the file set names as regular files (`master.pem` too): never a folder or a link. */
  regularFiles: ReadonlySet<string>;
}

/** The restore allowlist of this file set (+ `restore.extraPaths`). */
export function allowlistOf(c: FileSetConfig): Allowlist {
  const all = conductorFileSet(c);
  const items = all.filter((i) => i.role === 'take');
  const files = new Set(items.filter((i) => i.kind === 'file').map((i) => i.systemPath));
  const trees = [
    ...items.filter((i) => i.kind !== 'file').map((i) => i.systemPath),
    ...(c.restoreExtraPaths ?? []).map(clean),
  ];
  return {
    files,
    trees,
    privateAreas: items.filter((i) => i.private).map((i) => i.systemPath),
    fileRoots: items.filter((i) => i.fileRoot).map((i) => i.systemPath),
    regularFiles: new Set(all.filter((i) => i.kind === 'file').map((i) => i.systemPath)),
  };
}

/** True when `systemPath` (normalised, absolute) may be written as a file, link or folder. */
export function isAllowed(list: Allowlist, systemPath: string): boolean {
  if (list.files.has(systemPath)) return true;
  return list.trees.some((t) => under(systemPath, t));
}

/**
 * True when `systemPath` is a folder on the way to an allowed path (`/etc`, `/etc/128technology`).
 * Such folders may appear as directory members; restore creates them when missing and never
 * changes an existing one.
 */
export function isAncestorOfAllowed(list: Allowlist, systemPath: string): boolean {
  const prefix = systemPath === '/' ? '/' : `${systemPath}/`;
  for (const f of list.files) if (f.startsWith(prefix)) return true;
  return list.trees.some((t) => t.startsWith(prefix));
}

/** The private area holding `systemPath` (the innermost), or undefined. */
export function privateAreaOf(list: Allowlist, systemPath: string): string | undefined {
  let best: string | undefined;
  for (const a of list.privateAreas) {
    if (under(systemPath, a) && (best === undefined || a.length > best.length)) best = a;
  }
  return best;
}

/** The Salt file root holding `systemPath`, or undefined. */
export function fileRootOf(list: Allowlist, systemPath: string): string | undefined {
  return list.fileRoots.find((r) => under(systemPath, r));
}
