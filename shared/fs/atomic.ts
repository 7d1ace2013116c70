/**
 * The file operations that must not leave partial results: write to a temp file in the target
 * folder, fsync it, rename it into place, fsync the folder. Private material is written 0600 into
 * 0700 folders (DESIGN.md trust model, rule 6).
 */
import { promises as fsp, constants as fsc } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FsError } from '../errors.js';

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/** fsync a folder so a rename inside it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, fsc.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Create `dir` (and parents) if missing; with `mode`, force that mode on the last folder. */
export async function ensureDir(dir: string, mode?: number): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, ...(mode !== undefined ? { mode } : {}) });
  if (mode !== undefined) await fsp.chmod(dir, mode);
}

/** A temp path beside `target` (same folder, so rename is atomic). Names start with `.` and end `.tmp`. */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

const TEMP_NAME = /^\.(.+)\.(\d+)\.[0-9a-f]+\.tmp$/;

/** The target name and writer pid of a name `tempPathFor` made (a killed writer's leftover), if it is one. */
export function parseTempName(name: string): { target: string; pid: number } | undefined {
  const m = TEMP_NAME.exec(name);
  return m ? { target: m[1]!, pid: Number(m[2]) } : undefined;
}

export interface AtomicWriteOptions {
  /** File mode; default 0600 (private). */
  mode?: number;
  /** Make the parent folder with this mode if it is missing. */
  dirMode?: number;
}

/** Write `data` to `target` atomically: temp file, fsync, rename, fsync folder. */
export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const mode = options.mode ?? PRIVATE_FILE_MODE;
  const dir = dirname(target);
  if (options.dirMode !== undefined) await ensureDir(dir, options.dirMode);
  const tmp = tempPathFor(target);
  try {
    const fh = await fsp.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode);
    try {
      await fh.writeFile(data);
      await fh.chmod(mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, target);
    await fsyncDir(dir);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw new FsError('FS_WRITE_FAILED', `could not write ${target}: ${(err as Error).message}`, {
      cause: err,
      details: { path: target },
      hint: 'Check that the folder exists, is writable and the disk is not full.',
    });
  }
}

/** True if `p` exists (any type, symlinks not followed). */
export async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}
