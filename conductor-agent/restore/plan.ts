/**
 * Pure restore planning: staged members + the target's current state → what happens to every
 * path (add, replace, same, keep). No file system access here; `tree-state.ts` reads the target.
 */
import { RestoreError } from '../../shared/errors.js';
import { isAllowed, type Allowlist } from './allowlist.js';
import type { CurrentState, PlanEntry, RestorePlan, StagedMember } from './types.js';

export interface PlanInput {
  members: readonly StagedMember[];
  /** Current state of each member's path on the target (absent = missing). */
  current: ReadonlyMap<string, CurrentState>;
  /** Paths on the target inside restored folders that the archive does not hold (left alone). */
  extras?: ReadonlyMap<string, CurrentState>;
  allowlist: Allowlist;
}

const sameMeta = (m: StagedMember, c: CurrentState): boolean =>
  (m.kind === 'symlink' || (c.mode & 0o7777) === m.mode) && c.uid === m.uid && c.gid === m.gid;

/**
 * Plan a restore. Throws RESTORE_PREFLIGHT when a member's type conflicts with what is on the
 * target (a folder where the archive has a file, or the reverse): that needs an operator's eye.
 */
export function planRestore(input: PlanInput): RestorePlan {
  const entries: PlanEntry[] = [];
  const conflicts: string[] = [];
  for (const m of input.members) {
    const c = input.current.get(m.path);
    const size = m.kind === 'file' || m.kind === 'hardlink' ? m.size : 0;
    if (!c) {
      entries.push({ path: m.path, kind: m.kind, action: 'add', size });
      continue;
    }
    const base = { path: m.path, kind: m.kind, size, currentSize: c.size };
    const wantKind = m.kind === 'hardlink' ? 'file' : m.kind;
    if (c.kind !== wantKind) {
      conflicts.push(`${m.path} (archive: ${m.kind}, target: ${c.kind})`);
      continue;
    }
    if (m.kind === 'dir') {
      // Folders on the way to the restore set (/etc, /srv) are never changed.
      if (m.implied || !isAllowed(input.allowlist, m.path) || sameMeta(m, c))
        entries.push({ ...base, action: 'same', metaDiffers: false });
      else entries.push({ ...base, action: 'replace', metaDiffers: true, contentDiffers: false });
      continue;
    }
    const contentDiffers =
      m.kind === 'symlink' ? c.linkTarget !== m.linkTarget : c.size !== m.size || c.sha256 !== m.sha256;
    const metaDiffers = !sameMeta(m, c);
    entries.push({ ...base, action: contentDiffers || metaDiffers ? 'replace' : 'same', contentDiffers, metaDiffers });
  }
  if (conflicts.length) {
    throw new RestoreError(
      'RESTORE_PREFLIGHT',
      `the target has ${conflicts.length} path(s) whose type differs from the archive: ${conflicts.slice(0, 5).join(', ')}`,
      {
        details: { conflicts },
        hint: 'Nothing was changed. Move those paths aside by hand, then run restore again.',
      },
    );
  }
  for (const [path, c] of input.extras ?? []) {
    entries.push({
      path,
      kind: c.kind === 'other' ? 'file' : c.kind,
      action: 'keep',
      size: c.size,
      currentSize: c.size,
    });
  }
  const count = (a: PlanEntry['action']): number => entries.filter((e) => e.action === a).length;
  const bytesToWrite = entries
    .filter((e) => (e.action === 'add' || e.action === 'replace') && e.contentDiffers !== false)
    .reduce((s, e) => s + e.size, 0);
  return {
    entries,
    summary: { add: count('add'), replace: count('replace'), same: count('same'), keep: count('keep'), bytesToWrite },
  };
}

/** Entries that change the target, in apply order: folders parents-first, then everything else. */
export function changes(plan: RestorePlan): PlanEntry[] {
  const ch = plan.entries.filter((e) => e.action === 'add' || e.action === 'replace');
  const dirs = ch.filter((e) => e.kind === 'dir').sort((a, b) => a.path.split('/').length - b.path.split('/').length);
  const files = ch.filter((e) => e.kind !== 'dir' && e.kind !== 'hardlink');
  // Hard links after the files they point to.
  const links = ch.filter((e) => e.kind === 'hardlink');
  return [...dirs, ...files, ...links];
}
