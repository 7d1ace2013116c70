/** Promise wrappers over the ssh2 SFTP calls the off-box copy uses. */
import { createHash } from 'node:crypto';
import type { FileEntryWithStats, SFTPWrapper, Stats } from 'ssh2';

const call = <T>(fn: (cb: (err: Error | null | undefined, v?: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));

export const sftpOps = (s: SFTPWrapper) => ({
  put: (local: string, remote: string) =>
    call<void>((cb) => s.fastPut(local, remote, { concurrency: 8, chunkSize: 256 * 1024 }, (e) => cb(e))),
  stat: (p: string) => call<Stats>((cb) => s.stat(p, cb)),
  rename: (from: string, to: string) => call<void>((cb) => s.ext_openssh_rename(from, to, (e) => cb(e))),
  unlink: (p: string) => call<void>((cb) => s.unlink(p, (e) => cb(e))),
  mkdir: (p: string) => call<void>((cb) => s.mkdir(p, { mode: 0o700 }, (e) => cb(e))),
  readdir: (p: string) => call<FileEntryWithStats[]>((cb) => s.readdir(p, cb)),
  chmod: (p: string, mode: number) => call<void>((cb) => s.chmod(p, mode, (e) => cb(e))),
  /** SHA-256 of a remote file, read back over the channel (OpenSSH has no server-side hash call). */
  sha256: (p: string) =>
    new Promise<string>((resolve, reject) => {
      const h = createHash('sha256');
      s.createReadStream(p, { highWaterMark: 256 * 1024 })
        .on('data', (c: Buffer) => h.update(c))
        .on('error', reject)
        .on('end', () => resolve(h.digest('hex')));
    }),
});

export type SftpOps = ReturnType<typeof sftpOps>;
