/**
 * uid/gid → user/group names, from `/etc/passwd` and `/etc/group` of the machine we run on (not
 * under --root: the files being backed up belong to this machine's accounts). Restore prefers the
 * names and falls back to the ids.
 */
import { readAccounts } from '../../shared/fs/accounts.js';

export interface OwnerNames {
  user(uid: number): string | undefined;
  group(gid: number): string | undefined;
}

/** Names from the given passwd/group files; unknown ids map to undefined. */
export function loadOwnerNames(passwd = '/etc/passwd', group = '/etc/group'): OwnerNames {
  const users = readAccounts(passwd).byId;
  const groups = readAccounts(group).byId;
  return { user: (uid) => users.get(uid), group: (gid) => groups.get(gid) };
}
