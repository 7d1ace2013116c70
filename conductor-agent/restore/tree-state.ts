/**
 * Reads the target's current state for the planner: lstat (never following links) of every path
 * the archive holds, SHA-256 only where sizes match (the only case where content can be equal),
 * and what else lives inside the restored folders (left alone, listed in the plan).
 */
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, promises as fsp, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { underRoot } from '../../shared/config/schema.js';
import { isAllowed, type Allowlist } from './allowlist.js';
import type { CurrentState, StagedMember } from './types.js';

const kindOf = (st: Stats): CurrentState['kind'] =>
  st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';

/** SHA-256 (hex) of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function stateOf(p: string, wantHashForSize?: number): Promise<CurrentState | undefined> {
  // Synchronous lstat: thousands of small calls, much faster than a promise each.
  const st = lstatSync(p, { throwIfNoEntry: false });
  if (!st) return undefined;
  const c: CurrentState = {
    kind: kindOf(st),
    size: st.isFile() ? st.size : 0,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
  };
  if (c.kind === 'file' && wantHashForSize === st.size) c.sha256 = await sha256File(p);
  if (c.kind === 'symlink') c.linkTarget = await fsp.readlink(p);
  return c;
}

export interface TreeState {
  current: Map<string, CurrentState>;
  extras: Map<string, CurrentState>;
}

/** Current state of every member path under `root`, and the extras inside restored folders. */
export async function readTreeState(
  root: string,
  members: readonly StagedMember[],
  allowlist: Allowlist,
): Promise<TreeState> {
  const current = new Map<string, CurrentState>();
  const inArchive = new Set(members.map((m) => m.path));
  const extras = new Map<string, CurrentState>();
  // Members come after their folders: nothing can exist under a folder the target lacks, so its
  // content is not looked up (a rebuilt conductor lacks folders holding 12,000 members).
  const missing = new Set<string>();
  for (const m of members) {
    if (missing.has(posix.dirname(m.path))) {
      if (m.kind === 'dir') missing.add(m.path);
      continue;
    }
    const s = await stateOf(underRoot(root, m.path), m.kind === 'file' || m.kind === 'hardlink' ? m.size : undefined);
    if (!s && m.kind === 'dir') missing.add(m.path);
    if (s) current.set(m.path, s);
    if (m.kind === 'dir' && !m.implied && s?.kind === 'dir' && isAllowed(allowlist, m.path)) {
      for (const name of await fsp.readdir(underRoot(root, m.path))) {
        const p = `${m.path}/${name}`;
        if (inArchive.has(p)) continue;
        const e = await stateOf(underRoot(root, p));
        if (e) extras.set(p, e);
      }
    }
  }
  return { current, extras };
}
