/**
 * user/group names → ids on the machine being restored (its own `/etc/passwd` and `/etc/group`,
 * not under --root: restored files belong to this machine's accounts). The manifest records both
 * names and ids; restore prefers the names (uids differ between installs) and falls back to ids.
 */
import { readFileSync } from 'node:fs';

export interface OwnerIds {
  uid(name: string | undefined, fallback: number): number;
  gid(name: string | undefined, fallback: number): number;
}

/** Parse `name:x:id:…` lines into name → id. */
export function parseNameFile(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const [name, , id] = line.split(':');
    const n = Number(id);
    if (name && id !== undefined && id !== '' && Number.isInteger(n) && !out.has(name)) out.set(name, n);
  }
  return out;
}

const readOr = (p: string): string => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
};

/** Name lookups from the given files; unknown names fall back to the recorded id. */
export function loadOwnerIds(passwd = '/etc/passwd', group = '/etc/group'): OwnerIds {
  const users = parseNameFile(readOr(passwd));
  const groups = parseNameFile(readOr(group));
  return {
    uid: (name, fallback) => (name !== undefined && name !== '' ? users.get(name) ?? fallback : fallback),
    gid: (name, fallback) => (name !== undefined && name !== '' ? groups.get(name) ?? fallback : fallback),
  };
}

/** Keep the recorded ids (tests, and `--numeric-owner` behaviour). */
export const numericOwnerIds: OwnerIds = { uid: (_n, f) => f, gid: (_n, f) => f };
