/**
 * The file operations apply and rollback use, as one object (a port): tests replace single
 * methods with sinon to inject ENOSPC or EIO at a chosen call. Moves are atomic renames on one file
 * system; across file systems they copy into a temp file beside the destination and rename.
 */
import {
  chmodSync,
  constants as fsc,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  promises as fsp,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface ApplyFs {
  rename(from: string, to: string): Promise<void>;
  link(existing: string, newPath: string): Promise<void>;
  copyFile(from: string, to: string): Promise<void>;
  mkdir(path: string, mode: number): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  lchown(path: string, uid: number, gid: number): Promise<void>;
  lutimes(path: string, atime: number, mtime: number): Promise<void>;
  rm(path: string, recursive: boolean): Promise<void>;
  lstat(path: string): Promise<import('node:fs').Stats | undefined>;
  readlink(path: string): Promise<string>;
  symlink(target: string, path: string): Promise<void>;
}

/**
 * The real implementation. Synchronous calls behind the async interface: a restore makes tens of
 * thousands of tiny metadata calls, and a promise plus a thread-pool hop each costs more than the
 * call itself.
 */
export const systemApplyFs: ApplyFs = {
  rename: async (a, b) => renameSync(a, b),
  link: async (a, b) => linkSync(a, b),
  copyFile: (a, b) => fsp.copyFile(a, b, fsc.COPYFILE_EXCL),
  mkdir: async (p, mode) => {
    mkdirSync(p, { mode });
  },
  chmod: async (p, mode) => chmodSync(p, mode),
  lchown: async (p, uid, gid) => lchownSync(p, uid, gid),
  lutimes: async (p, a, m) => lutimesSync(p, a, m),
  rm: async (p, recursive) => rmSync(p, { force: true, recursive }),
  lstat: async (p) => lstatSync(p, { throwIfNoEntry: false }),
  readlink: async (p) => readlinkSync(p),
  symlink: async (t, p) => symlinkSync(t, p),
};

/** A temp name beside `target` that a later run can find again (same run id → same name). */
export const besideTemp = (target: string, runId: string): string =>
  join(dirname(target), `.${basename(target)}.ssr-restore-${runId}.tmp`);

/**
 * Move `from` onto `to` atomically, keeping mode, owner and times. Same file system: one rename.
 * Across file systems (EXDEV): copy into a temp file beside `to`, set metadata, rename, unlink `from`.
 */
export async function moveInto(fs: ApplyFs, from: string, to: string, runId: string): Promise<void> {
  try {
    await fs.rename(from, to);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
  }
  const tmp = besideTemp(to, runId);
  await fs.rm(tmp, false);
  await copyWithMeta(fs, from, tmp);
  await fs.rename(tmp, to);
  await fs.rm(from, false);
}

/**
 * Keep `target` as `saved` without copying when possible (a hard link to the same inode: exact
 * content, mode, owner and times). Across file systems: copy to `saved.tmp`, then rename, so a
 * half-written copy is never mistaken for a saved one.
 */
export async function keepOld(fs: ApplyFs, target: string, saved: string): Promise<void> {
  if (await fs.lstat(saved)) return;
  try {
    await fs.link(target, saved);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
  }
  await fs.rm(`${saved}.tmp`, false);
  await copyWithMeta(fs, target, `${saved}.tmp`);
  await fs.rename(`${saved}.tmp`, saved);
}

async function copyWithMeta(fs: ApplyFs, from: string, to: string): Promise<void> {
  const st = await fs.lstat(from);
  if (!st) throw Object.assign(new Error(`${from} vanished`), { code: 'ENOENT' });
  if (st.isSymbolicLink()) await fs.symlink(await fs.readlink(from), to);
  else {
    await fs.copyFile(from, to);
    await fs.chmod(to, st.mode & 0o7777);
  }
  await fs.lchown(to, st.uid, st.gid);
  await fs.lutimes(to, st.atimeMs / 1000, st.mtimeMs / 1000);
}
