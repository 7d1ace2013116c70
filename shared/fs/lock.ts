/**
 * One run at a time: an exclusive lock file holding {pid, host, since, purpose}. A lock left by a
 * dead process on this host is stale and taken over; a lock from another host, or from a live
 * process, is reported with LOCK_HELD (exit 6) and who holds it.
 */
import { promises as fsp, constants as fsc } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { RecoveryError } from '../errors.js';

export interface LockInfo {
  pid: number;
  host: string;
  since: string;
  purpose: string;
}

export interface LockHandle {
  readonly path: string;
  release(): Promise<void>;
}

export interface LockOptions {
  purpose: string;
  /** Injected for tests: is this pid alive on this host? */
  isAlive?: (pid: number) => boolean;
  host?: string;
  pid?: number;
  now?: () => Date;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLock(path: string): Promise<LockInfo | undefined> {
  try {
    const parsed = JSON.parse(await fsp.readFile(path, 'utf8')) as Partial<LockInfo>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') return parsed as LockInfo;
  } catch {
    /* unreadable or half-written: treated as stale below */
  }
  return undefined;
}

/** Take the lock at `path` or throw LOCK_HELD. */
export async function acquireLock(path: string, options: LockOptions): Promise<LockHandle> {
  const host = options.host ?? hostname();
  const pid = options.pid ?? process.pid;
  const isAlive = options.isAlive ?? pidAlive;
  const info: LockInfo = { pid, host, since: (options.now?.() ?? new Date()).toISOString(), purpose: options.purpose };
  // Create a missing folder, but never change an existing one's mode: a lock often sits in a shared
  // folder (the backup folder is /var/log/128technology) whose permissions are not ours to tighten.
  await fsp.mkdir(dirname(path), { recursive: true, mode: 0o755 }).catch(() => undefined);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await fsp.open(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
      try {
        await fh.writeFile(`${JSON.stringify(info)}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      let released = false;
      return {
        path,
        async release() {
          if (released) return;
          released = true;
          const current = await readLock(path);
          if (current && current.pid === pid && current.host === host) await fsp.rm(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new RecoveryError('FS_WRITE_FAILED', `cannot create lock ${path}: ${(err as Error).message}`, {
          cause: err,
          details: { path },
        });
      }
    }
    const holder = await readLock(path);
    const stale = holder === undefined ? await olderThan(path, 10_000) : holder.host === host && !isAlive(holder.pid);
    if (!stale) {
      throw new RecoveryError(
        'LOCK_HELD',
        holder
          ? `another ${holder.purpose} run holds ${path} (pid ${holder.pid} on ${holder.host} since ${holder.since})`
          : `${path} is being written by another run`,
        {
          details: { path, holder },
          hint:
            holder && holder.host !== host
              ? `The lock belongs to host ${holder.host}; if that run is gone, remove ${path} by hand.`
              : 'Wait for the other run to finish, then try again.',
        },
      );
    }
    await fsp.rm(path, { force: true });
  }
  throw new RecoveryError('LOCK_HELD', `could not take the lock ${path}`, { details: { path } });
}

async function olderThan(path: string, ms: number): Promise<boolean> {
  try {
    return Date.now() - (await fsp.stat(path)).mtimeMs > ms;
  } catch {
    return true;
  }
}
