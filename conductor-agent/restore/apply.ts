/**
 * Applying a staged restore to the target tree, and undoing it. Every step is idempotent so a run
 * killed at any point can be resumed or rolled back by running the same step again:
 * - save: each file about to be replaced is kept in the run's `old/` folder (a hard link: same
 *   inode, so content, mode, owner and times come back exactly); folders keep their old metadata.
 * - apply: folders the target lacks are moved in whole from staging (others created), then each
 *   remaining staged file is renamed into place (already carrying its final mode, owner and
 *   times), then folder metadata is set.
 * - rollback: in reverse order, saved files are renamed back, added paths removed, folder metadata
 *   restored.
 */
import { join, posix } from 'node:path';
import { underRoot } from '../../shared/config/schema.js';
import { besideTemp, keepOld, moveInto, type ApplyFs } from './apply-fs.js';
import type { Journal, JournalChange } from './journal.js';

export interface ApplyContext {
  fs: ApplyFs;
  journal: Journal;
  /** The run folder's staging and old paths. */
  staging: string;
  old: string;
  /** True when continuing an interrupted run (temp files of a killed cross-file-system move may exist). */
  resumed?: boolean;
  /** Called after each file is moved into place (progress, and the kill -9 tests). */
  onApplied?: (path: string, index: number) => Promise<void> | void;
}

const target = (j: Journal, p: string): string => underRoot(j.root, p);

/**
 * Save what will be replaced; records `saved`/`oldMeta` in the journal's changes (caller persists
 * it). Returns false when nothing was recorded (nothing on the target is replaced).
 */
export async function saveOld(ctx: ApplyContext): Promise<boolean> {
  const { fs, journal: j } = ctx;
  let recorded = false;
  if (!(await fs.lstat(ctx.old))) await fs.mkdir(ctx.old, 0o700);
  let n = 0;
  for (const c of j.changes) {
    n++;
    if (c.action !== 'replace') continue;
    const t = target(j, c.path);
    const st = await fs.lstat(t);
    if (!st) continue;
    recorded = true;
    if (c.kind === 'dir') {
      c.oldMeta ??= { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      continue;
    }
    c.saved ??= `f${n}`;
    await keepOld(fs, t, join(ctx.old, c.saved));
  }
  return recorded;
}

/**
 * Move every staged member into place. Safe to run again after a partial run.
 *
 * A folder the target lacks is moved whole, staged content and all: one rename instead of one per
 * file (a rebuilt conductor lacks the pki `master/` folder with its 10,000 minion keys, /srv/salt
 * and /var/lib/128technology). Everything under such a folder is an `add` (its folder did not
 * exist), staging holds exactly the archive's members, and rollback removes added folders whole,
 * so the result and its undo are the same as moving each file. `onApplied` is called once for a
 * folder moved whole. Across file systems (EXDEV) folders are made and files moved one by one.
 */
export async function applyChanges(ctx: ApplyContext): Promise<string[]> {
  const { fs, journal: j } = ctx;
  const applied: string[] = [];
  const moved = new Set<string>();
  const inMoved = (p: string): boolean => {
    for (let d = posix.dirname(p); d !== '/' && d !== '.'; d = posix.dirname(d)) if (moved.has(d)) return true;
    return false;
  };
  let wholeFolders = true;
  let i = 0;
  for (const c of j.changes) {
    if (c.kind !== 'dir' || inMoved(c.path)) continue;
    const t = target(j, c.path);
    if (await fs.lstat(t)) continue;
    if (c.action === 'add' && wholeFolders) {
      try {
        await fs.rename(ctx.staging + c.path, t);
        moved.add(c.path);
        await ctx.onApplied?.(c.path, i++);
        continue;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
        wholeFolders = false;
      }
    }
    await fs.mkdir(t, 0o700);
  }
  for (const c of j.changes) {
    if (c.kind === 'dir') continue;
    if (inMoved(c.path)) {
      applied.push(c.path);
      continue;
    }
    const staged = ctx.staging + c.path;
    const t = target(j, c.path);
    if (ctx.resumed) await fs.rm(besideTemp(t, j.id), false);
    try {
      await moveInto(fs, staged, t, j.id);
    } catch (err) {
      // A missing staged file means an earlier (killed) run already moved it into place.
      if (!(ctx.resumed && (err as NodeJS.ErrnoException).code === 'ENOENT' && (await fs.lstat(t)))) throw err;
    }
    applied.push(c.path);
    await ctx.onApplied?.(c.path, i++);
  }
  await finishDirs(ctx);
  return applied;
}

/** Folder owner, mode and times, deepest first (after their content is in place). */
async function finishDirs(ctx: ApplyContext): Promise<void> {
  const { fs, journal: j } = ctx;
  const changed = new Set(j.changes.filter((c) => c.kind === 'dir').map((c) => c.path));
  const dirs = j.dirs.filter((d) => changed.has(d.path)).sort((a, b) => b.path.length - a.path.length);
  for (const d of dirs) {
    const t = target(j, d.path);
    await fs.lchown(t, d.uid, d.gid);
    await fs.chmod(t, d.mode);
    await fs.lutimes(t, d.mtime, d.mtime);
  }
}

/**
 * Undo: put back every saved file, remove what was added, restore folder metadata. Returns the
 * paths it could not restore (empty on success). Safe to run again after a partial run.
 */
export async function rollbackChanges(ctx: ApplyContext): Promise<{ path: string; error: string }[]> {
  const { fs, journal: j } = ctx;
  const failed: { path: string; error: string }[] = [];
  const undo = async (c: JournalChange): Promise<void> => {
    const t = target(j, c.path);
    await fs.rm(besideTemp(t, j.id), false);
    if (c.kind === 'dir') {
      if (c.action === 'add') await fs.rm(t, true);
      else if (c.oldMeta) {
        await fs.lchown(t, c.oldMeta.uid, c.oldMeta.gid);
        await fs.chmod(t, c.oldMeta.mode);
      }
      return;
    }
    if (c.action === 'replace' && c.saved) {
      const saved = join(ctx.old, c.saved);
      // A missing saved copy means this path was already put back.
      if (await fs.lstat(saved)) await moveInto(fs, saved, t, j.id);
      return;
    }
    if (c.action === 'add') await fs.rm(t, false);
  };
  // Files first (reverse order), then folders deepest first.
  const files = j.changes.filter((c) => c.kind !== 'dir').reverse();
  const dirs = j.changes.filter((c) => c.kind === 'dir').sort((a, b) => b.path.length - a.path.length);
  for (const c of [...files, ...dirs]) {
    try {
      await undo(c);
    } catch (err) {
      failed.push({ path: c.path, error: (err as Error).message });
    }
  }
  return failed;
}
