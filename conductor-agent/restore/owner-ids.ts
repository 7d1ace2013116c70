/**
 * user/group names → ids on the machine being restored (its own `/etc/passwd` and `/etc/group`,
 * not under --root: restored files belong to this machine's accounts). The manifest records both
 * names and ids; restore prefers the names (uids differ between installs) and falls back to ids.
 */
import { readAccounts } from '../../shared/fs/accounts.js';

export interface OwnerIds {
  uid(name: string | undefined, fallback: number): number;
  gid(name: string | undefined, fallback: number): number;
}

/** Name lookups from the given files; unknown names fall back to the recorded id. */
export function loadOwnerIds(passwd = '/etc/passwd', group = '/etc/group'): OwnerIds {
  const users = readAccounts(passwd).byName;
  const groups = readAccounts(group).byName;
  return {
    uid: (name, fallback) => (name !== undefined && name !== '' ? (users.get(name) ?? fallback) : fallback),
    gid: (name, fallback) => (name !== undefined && name !== '' ? (groups.get(name) ?? fallback) : fallback),
  };
}

/** Keep the recorded ids (tests, and `--numeric-owner` behaviour). */
export const numericOwnerIds: OwnerIds = { uid: (_n, f) => f, gid: (_n, f) => f };
