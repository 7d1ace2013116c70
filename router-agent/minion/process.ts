/**
 * The running minion process, found the way Salt records it: the pid file named by the minion
 * config's `pidfile` (default `/var/run/salt-minion.pid`), under its `root_dir` when one is set
 * (Salt's `prepend_root_dir`). The file is written when the daemon starts, so its mtime is the
 * start of the running minion: log lines older than that belong to an earlier run.
 */
import { pidAlive } from '../../shared/fs/lock.js';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { effectiveValues, type MinionConfigPaths } from './config-files.js';

export const DEFAULT_MINION_PIDFILE = '/var/run/salt-minion.pid';

/** The pid file path as Salt resolves it from the minion config's `pidfile` and `root_dir`. */
export function pidFilePath(pidfile: string | undefined, rootDir: string | undefined): string {
  const pid = pidfile ?? DEFAULT_MINION_PIDFILE;
  const root = rootDir ?? '/';
  const under = pid.startsWith(`${root.replace(/\/+$/, '')}/`);
  if (root === '/' || root === '' || !pid.startsWith('/') || under) return pid;
  return join(root, pid);
}

/** The pid file path, read from the minion config. */
export async function minionPidFile(config: MinionConfigPaths): Promise<string> {
  const v = await effectiveValues(config, ['pidfile', 'root_dir']);
  return pidFilePath(v.get('pidfile'), v.get('root_dir'));
}

/** True when a process with this pid exists (EPERM: it exists, owned by someone else). */
export { pidAlive };

export interface MinionProcess {
  pid: number;
  /** When the pid file was written (ms epoch): the running minion's start. */
  startedAt: number;
}

/** The running minion named by its pid file, or undefined (no file, garbage, or the pid is gone). */
export async function runningMinion(pidFile: string): Promise<MinionProcess | undefined> {
  let text: string;
  let mtime: number;
  try {
    [text, mtime] = await Promise.all([fsp.readFile(pidFile, 'utf8'), fsp.stat(pidFile).then((s) => s.mtimeMs)]);
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 1 || !pidAlive(pid)) return undefined;
  return { pid, startedAt: mtime };
}
