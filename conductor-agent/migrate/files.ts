/**
 * Files on the new conductor: the config export goes there, its master.pub and minion keys are read and
 * gated there. Two implementations of one port: SFTP with a pinned host key (real hosts; no trust on
 * first use), and `local` for a new conductor whose tree is on this machine (the sandbox, rehearsals).
 * Writes are atomic on both (temp name, then rename) and keep the mode asked for.
 */
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import { RecoveryError } from '../../shared/errors.js';
import { underRoot } from '../../shared/config/schema.js';
import { writeFileAtomic } from '../../shared/fs/atomic.js';
import { openSession, type SshSession, type SshTarget } from '../ssh/session.js';

export interface NewConductorFiles {
  /** Where the files are, for reports (`sftp://host` or the local root). */
  readonly where: string;
  /** Read a system path; undefined when it does not exist. */
  read(systemPath: string): Promise<Buffer | undefined>;
  /** Write atomically with `mode`, creating the folder (0700) when missing. */
  write(systemPath: string, data: Buffer, mode: number): Promise<void>;
  remove(systemPath: string): Promise<void>;
  close(): Promise<void>;
}

/** The new conductor's tree under a local root. */
export function localFiles(root: string): NewConductorFiles {
  const at = (p: string): string => underRoot(root, p);
  return {
    where: root,
    async read(p) {
      try {
        return await fsp.readFile(at(p));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw fsError('read', p, err);
      }
    },
    async write(p, data, mode) {
      try {
        await fsp.mkdir(dirname(at(p)), { recursive: true, mode: 0o700 });
        await writeFileAtomic(at(p), data, { mode });
      } catch (err) {
        throw fsError('write', p, err);
      }
    },
    async remove(p) {
      await fsp.rm(at(p), { force: true });
    },
    async close() {},
  };
}

const call = <T>(fn: (cb: (err: Error | null | undefined, v?: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));

/**
 * The new conductor over SFTP; the session opens on first use and the host key must match the pin.
 * `remoteRoot` prefixes every path on the remote side (`/` on a real conductor; a staging tree in rehearsals).
 */
export function sftpFiles(
  target: SshTarget,
  remoteRoot = '/',
  connect: (t: SshTarget) => Promise<SshSession> = openSession,
): NewConductorFiles {
  const at = (p: string): string => underRoot(remoteRoot, p);
  let session: Promise<{ s: SshSession; sftp: SFTPWrapper }> | undefined;
  const open = (): Promise<{ s: SshSession; sftp: SFTPWrapper }> => {
    session ??= connect(target).then(async (s) => ({ s, sftp: await s.sftp() }));
    return session;
  };
  return {
    where: `sftp://${target.username}@${target.host}:${target.port}`,
    async read(sp) {
      const { sftp } = await open();
      const p = at(sp);
      try {
        return await call<Buffer>((cb) => sftp.readFile(p, cb));
      } catch (err) {
        if ((err as { code?: number }).code === 2) return undefined; // SSH_FX_NO_SUCH_FILE
        throw fsError('read', p, err);
      }
    },
    async write(sp, data, mode) {
      const { sftp } = await open();
      const p = at(sp);
      const part = `${dirname(p)}/.${p.slice(dirname(p).length + 1)}.part`;
      try {
        await call<void>((cb) => sftp.mkdir(dirname(p), { mode: 0o700 }, () => cb(null)));
        await call<void>((cb) => sftp.writeFile(part, data, { mode }, (e) => cb(e)));
        await call<void>((cb) => sftp.chmod(part, mode, (e) => cb(e)));
        await call<void>((cb) => sftp.ext_openssh_rename(part, p, (e) => cb(e)));
      } catch (err) {
        await call<void>((cb) => sftp.unlink(part, () => cb(null)));
        throw fsError('write', p, err);
      }
    },
    async remove(sp) {
      const { sftp } = await open();
      await call<void>((cb) => sftp.unlink(at(sp), () => cb(null)));
    },
    async close() {
      if (session) (await session.catch(() => undefined))?.s.close();
    },
  };
}

function fsError(op: string, path: string, err: unknown): RecoveryError {
  if (err instanceof RecoveryError) return err;
  return new RecoveryError(
    op === 'read' ? 'FS_UNREADABLE' : 'FS_WRITE_FAILED',
    `cannot ${op} ${path} on the new conductor: ${(err as Error).message}`,
    { cause: err, details: { path } },
  );
}
