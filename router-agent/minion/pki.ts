/**
 * The minion's cached master key (`<pkiDir>/minion_master.pub`): its Salt fingerprint, and moving
 * it aside or back. The key is public, so copies kept for rollback need no secrecy, but they live
 * in the agent's own state folder, never where the minion would read them.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { pemFinger } from '../../shared/salt/fingerprint.js';
import { fsyncDir } from '../../shared/fs/atomic.js';
import { ROUTER_FILES } from '../../shared/ssr/layout.js';

export const cachedKeyPath = (pkiDir: string): string => join(pkiDir, ROUTER_FILES.cachedMasterKey);

/** Fingerprint of the cached master key; undefined when absent or unreadable as PEM. */
export async function cachedFingerprint(pkiDir: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(cachedKeyPath(pkiDir), 'utf8');
  } catch {
    return undefined;
  }
  try {
    return pemFinger(text);
  } catch {
    return undefined;
  }
}

/** Copy `src` to `dest` durably (copy, fsync, fsync folder). Returns false when `src` is absent. */
export async function copyDurably(src: string, dest: string, mode = 0o644): Promise<boolean> {
  let data: Buffer;
  try {
    data = await fsp.readFile(src);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  const fh = await fsp.open(dest, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsyncDir(join(dest, '..'));
  return true;
}

/** Remove a file if present; fsync its folder. */
export async function removeDurably(p: string): Promise<boolean> {
  try {
    await fsp.unlink(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  await fsyncDir(join(p, '..')).catch(() => undefined);
  return true;
}
