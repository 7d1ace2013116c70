/**
 * Turn a plan's sources into the ordered list of archive entries, from lstat alone (no content is
 * read here: hashes are computed while streaming, archive-writer.ts). Missing required sources are
 * collected and reported together; symlinks, sockets and devices inside folders are skipped and
 * reported, never followed (a link in /srv/salt must not pull /etc/shadow into the backup).
 */
import type { Stats } from 'node:fs';
import { BackupError, FsError } from '../../shared/errors.js';
import type { BackupSource } from './plan.js';
import type { OwnerNames } from './owners.js';
import type { SourceFs } from './source-fs.js';

export interface CollectedEntry {
  /** Absolute system path; the member name is this without the leading `/`. */
  systemPath: string;
  /** Where it is on disk (under --root). */
  sourcePath: string;
  type: 'file' | 'dir';
  size: number;
  mode: number;
  uid: number;
  gid: number;
  owner?: string | undefined;
  group?: string | undefined;
  mtimeMs: number;
  /** Identity and change time at listing: the file read later must be this one, unchanged. */
  ino: number;
  ctimeMs: number;
}

export interface Collected {
  entries: CollectedEntry[];
  missingOptional: string[];
  skipped: { path: string; reason: string }[];
  /** Sum of file sizes (for progress). */
  totalBytes: number;
}

export interface CollectOptions {
  resolve: (systemPath: string) => string;
  fs: SourceFs;
  owners: OwnerNames;
  /** System paths (and everything below them) to leave out. */
  exclude: string[];
}

function kindOf(st: Stats): 'file' | 'dir' | 'other' {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  return 'other';
}

function isUnder(p: string, dir: string): boolean {
  const d = dir.replace(/\/+$/, '');
  return p === d || p.startsWith(`${d}/`);
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** Walk every source; throws BACKUP_MISSING_FILES naming every missing required path. */
export async function collectEntries(sources: BackupSource[], options: CollectOptions): Promise<Collected> {
  const seen = new Set<string>();
  const out: Collected = { entries: [], missingOptional: [], skipped: [], totalBytes: 0 };
  const missing: { path: string; why: string; problem: string }[] = [];
  const excluded = (p: string): boolean => options.exclude.some((d) => isUnder(p, d));

  const add = (systemPath: string, st: Stats, type: 'file' | 'dir', sourcePath = options.resolve(systemPath)): void => {
    seen.add(systemPath);
    const size = type === 'file' ? st.size : 0;
    out.totalBytes += size;
    out.entries.push({
      systemPath,
      sourcePath,
      type,
      size,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      owner: options.owners.user(st.uid),
      group: options.owners.group(st.gid),
      mtimeMs: st.mtimeMs,
      ino: st.ino,
      ctimeMs: st.ctimeMs,
    });
  };

  const walk = async (dir: string): Promise<void> => {
    let names: string[];
    try {
      names = options.fs.readdirSync(options.resolve(dir)).sort();
    } catch (err) {
      throw unreadable(dir, err);
    }
    for (const name of names) {
      const child = `${dir === '/' ? '' : dir}/${name}`;
      if (seen.has(child) || excluded(child)) continue;
      let st: Stats;
      try {
        st = options.fs.lstatSync(options.resolve(child));
      } catch (err) {
        if (errCode(err) === 'ENOENT') throw vanished(child, err);
        throw unreadable(child, err);
      }
      const kind = kindOf(st);
      if (kind === 'other') {
        out.skipped.push({
          path: child,
          reason: st.isSymbolicLink() ? 'symbolic link (not followed)' : 'not a regular file or folder',
        });
        continue;
      }
      add(child, st, kind);
      if (kind === 'dir') await walk(child);
    }
  };

  for (const src of sources) {
    if (excluded(src.systemPath)) continue;
    let st: Stats;
    try {
      st = options.fs.statSync(options.resolve(src.systemPath));
    } catch (err) {
      if (errCode(err) !== 'ENOENT' && errCode(err) !== 'ENOTDIR') throw unreadable(src.systemPath, err);
      if (src.required) missing.push({ path: src.systemPath, why: src.why, problem: 'missing' });
      else out.missingOptional.push(src.systemPath);
      continue;
    }
    const kind = kindOf(st);
    if (kind === 'other' || (src.kind !== 'any' && src.kind !== kind)) {
      const problem = `not a ${src.kind === 'dir' ? 'folder' : 'regular file'}`;
      if (src.required) missing.push({ path: src.systemPath, why: src.why, problem });
      else out.skipped.push({ path: src.systemPath, reason: problem });
      continue;
    }
    // A source named in the plan may itself be a symlink (e.g. an SSR file moved elsewhere): it is
    // followed, once, and read from its target. Links found inside folders are never followed.
    let sourcePath = options.resolve(src.systemPath);
    try {
      if (options.fs.lstatSync(sourcePath).isSymbolicLink()) sourcePath = options.fs.realpathSync(sourcePath);
    } catch (err) {
      throw unreadable(src.systemPath, err);
    }
    if (!seen.has(src.systemPath)) add(src.systemPath, st, kind, sourcePath);
    if (kind === 'dir') await walk(src.systemPath);
  }
  if (missing.length > 0) {
    throw new BackupError(
      'BACKUP_MISSING_FILES',
      `required files for the backup are missing: ${missing.map((m) => `${m.path} (${m.why}: ${m.problem})`).join(', ')}`,
      {
        details: { missing },
        hint: 'Check that this is a conductor node and that --root and salt.pkiDir point at it; remove absent backup.extraPaths from the configuration.',
      },
    );
  }
  return out;
}

export function vanished(path: string, cause?: unknown): BackupError {
  return new BackupError('BACKUP_FILE_CHANGED', `${path} vanished or changed while it was being backed up`, {
    cause,
    details: { path },
    hint: 'Run the backup again when the conductor is quiet (no commit or key change in progress); no archive was written.',
  });
}

export function unreadable(path: string, cause: unknown): FsError {
  return new FsError('FS_UNREADABLE', `cannot read ${path}: ${(cause as Error).message}`, {
    cause,
    details: { path, errno: errCode(cause) },
    hint: 'Run the backup as root (or as the owner of the SSR files); no archive was written.',
  });
}
