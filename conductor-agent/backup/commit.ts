/**
 * Getting a finished archive into place without ever exposing a partial one: a 0600 temp file in
 * the target folder, fsync, rename, fsync the folder (a crash leaves either the old state or the
 * new, never half a file). The `.sha256` sidecar is written first, so every archive that becomes
 * visible already has its checksum; an orphan sidecar from a killed run is cleaned on the next run.
 */
import { createReadStream, constants as fsc, promises as fsp } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { CHECKSUM_SUFFIX } from '../../shared/backup/format.js';
import { fsyncDir, parseTempName, PRIVATE_FILE_MODE, tempPathFor, writeFileAtomic } from '../../shared/fs/atomic.js';
import { pidAlive } from '../../shared/fs/lock.js';
import { isBackupFileName } from './naming.js';

export interface TempFile {
  path: string;
  handle: fsp.FileHandle;
}

/** Create a new private temp file beside `target` (O_EXCL, mode 0600). */
export async function openTemp(target: string): Promise<TempFile> {
  const path = tempPathFor(target);
  const fh = await fsp.open(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, PRIVATE_FILE_MODE);
  // The umask cannot loosen 0600, but a pre-set ACL default could: force it.
  await fh.chmod(PRIVATE_FILE_MODE);
  return { path, handle: fh };
}

/** SHA-256 (hex) of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** `sha256sum` line for `archive`. */
export function sidecarText(sha256: string, archive: string): string {
  return `${sha256}  ${basename(archive)}\n`;
}

/** Write the sidecar, then rename the temp archive into place and fsync the folder. */
export async function commitArchive(tempPath: string, target: string, sha256: string): Promise<void> {
  await writeFileAtomic(target + CHECKSUM_SUFFIX, sidecarText(sha256, target), { mode: PRIVATE_FILE_MODE });
  await fsp.rename(tempPath, target);
  await fsyncDir(dirname(target));
}

/**
 * Remove what killed runs left in `dir`: temp archives of dead processes and sidecars without
 * an archive. Call with the backup lock held.
 */
export async function cleanLeftovers(dir: string, isAlive: (pid: number) => boolean = pidAlive): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return removed;
  }
  const present = new Set(names);
  for (const name of names) {
    const t = parseTempName(name);
    const deadTemp = t?.target.startsWith('conductor-backup-') && t.pid !== process.pid && !isAlive(t.pid);
    const orphanSidecar =
      name.endsWith(CHECKSUM_SUFFIX) &&
      isBackupFileName(name.slice(0, -CHECKSUM_SUFFIX.length)) &&
      !present.has(name.slice(0, -CHECKSUM_SUFFIX.length));
    if (deadTemp || orphanSidecar) {
      await fsp.rm(join(dir, name), { force: true });
      removed.push(name);
    }
  }
  return removed;
}
