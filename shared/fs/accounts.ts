/**
 * Local accounts from `/etc/passwd` / `/etc/group` (`name:x:id:…` lines), read from the machine we
 * run on — never under --root: backed-up and restored files belong to this machine's accounts.
 * Backup maps ids → names for the manifest; restore maps names → ids (uids differ between installs).
 */
import { readFileSync } from 'node:fs';

export interface AccountTable {
  /** id → first name with that id (as getpwuid answers). */
  byId: Map<number, string>;
  /** name → id (first entry wins). */
  byName: Map<string, number>;
}

/** Parse the text of a passwd or group file. Comment, blank and malformed lines are skipped. */
export function parseAccounts(text: string): AccountTable {
  const byId = new Map<number, string>();
  const byName = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const [name, , id] = line.split(':');
    const n = Number(id);
    if (!name || id === undefined || id === '' || !Number.isInteger(n)) continue;
    if (!byId.has(n)) byId.set(n, name);
    if (!byName.has(name)) byName.set(name, n);
  }
  return { byId, byName };
}

/** Read and parse an account file; a missing or unreadable file is an empty table. */
export function readAccounts(path: string): AccountTable {
  try {
    return parseAccounts(readFileSync(path, 'utf8'));
  } catch {
    return parseAccounts('');
  }
}
