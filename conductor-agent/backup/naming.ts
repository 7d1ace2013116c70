/**
 * Backup file names. The timestamp is UTC `YYYY-MM-DDTHHMMSSZ` so names sort by time (the seed's
 * `date '+%Y-%d-%d'` printed the day twice and no month: names neither sorted nor told the date).
 */
import {
  ARCHIVE_NAME_RE,
  ARCHIVE_SUFFIX,
  ENCRYPTED_SUFFIX,
  parseArchiveStamp,
  splitHostNode,
} from '../../shared/backup/format.js';

/** `Date` → `2026-11-24T113005Z` (UTC, second precision). */
export function formatStamp(d: Date): string {
  return d
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/:/g, '');
}

/** Characters a host or node name may bring into a file name; anything else becomes `_`. */
function safePart(s: string): string {
  const cleaned = s.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return cleaned.length > 0 ? cleaned : '_';
}

/** `conductor-backup-<host>-<node>-<stamp>.tar.gz[.age]`. */
export function archiveName(host: string, node: string, createdAt: Date, encrypted = false): string {
  return `conductor-backup-${safePart(host)}-${safePart(node)}-${formatStamp(createdAt)}${encrypted ? ENCRYPTED_SUFFIX : ARCHIVE_SUFFIX}`;
}

export interface ParsedArchiveName {
  name: string;
  /** `<host>-<node>` as in the name. */
  hostNode: string;
  /** Split when the caller knew the host. */
  host?: string;
  node?: string;
  createdAt: Date;
  encrypted: boolean;
}

/** Parse one of our archive names; undefined for anything else (seed-made names included). */
export function parseArchiveName(name: string, knownHost?: string): ParsedArchiveName | undefined {
  const m = ARCHIVE_NAME_RE.exec(name);
  if (!m?.groups) return undefined;
  const createdAt = parseArchiveStamp(m.groups.stamp!);
  if (!createdAt) return undefined;
  const hostNode = m.groups.hostNode!;
  const split = knownHost ? splitHostNode(hostNode, safePart(knownHost)) : undefined;
  return { name, hostNode, ...(split ?? {}), createdAt, encrypted: Boolean(m.groups.age) };
}

/** Any `conductor-backup-*.tar.gz[.age]`, ours or made by hand with the seed's command. */
export function isBackupFileName(name: string): boolean {
  return name.startsWith('conductor-backup-') && (name.endsWith(ARCHIVE_SUFFIX) || name.endsWith(ENCRYPTED_SUFFIX));
}
