/**
 * uid/gid → user/group names, from `/etc/passwd` and `/etc/group` of the machine we run on (not
 * under --root: the files being backed up belong to this machine's accounts). Restore prefers the
 * names and falls back to the ids.
 */
import { readFileSync } from 'node:fs';

export interface OwnerNames {
  user(uid: number): string | undefined;
  group(gid: number): string | undefined;
}

/** Parse `name:x:id:…` lines into id → name (first name wins, as getpwuid does). */
export function parseIdFile(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const [name, , id] = line.split(':');
    const n = Number(id);
    if (name && id !== undefined && id !== '' && Number.isInteger(n) && !out.has(n)) out.set(n, name);
  }
  return out;
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Names from the given passwd/group files; unknown ids map to undefined. */
export function loadOwnerNames(passwd = '/etc/passwd', group = '/etc/group'): OwnerNames {
  const users = parseIdFile(readOr(passwd));
  const groups = parseIdFile(readOr(group));
  return { user: (uid) => users.get(uid), group: (gid) => groups.get(gid) };
}
