/**
 * The backup archive format, shared by `backup` (writer) and `verify`/`restore` (readers).
 *
 * An archive is a gzip'd tar (GNU `tar -xzf` extracts it; multi-member gzip is allowed). Its
 * first member is {@link MANIFEST_NAME}, a JSON {@link Manifest}; every other member's name is its
 * absolute system path without the leading `/` (as GNU tar stores `tar -czf … /etc/x`), so a
 * seed-made archive and ours name files the same way. Folders appear as directory members.
 * Beside the archive: `<archive>.sha256`, one line in `sha256sum` format for the archive file.
 * Encrypted archives add `.age` (`…tar.gz.age`) and the `.sha256` covers the encrypted file.
 */

import type { ManifestSignature } from './signature.js';

export const MANIFEST_NAME = 'ssr-recovery-manifest.json';
export const MANIFEST_FORMAT = 'ssr-recovery-backup';
export const MANIFEST_VERSION = 1;
/**
 * Suffixes, and the name pattern `conductor-backup-<host>-<node>-<YYYY-MM-DDTHHMMSSZ>.tar.gz[.age]`.
 * Host names and node names may both contain `-`, so the name cannot be split between them without
 * knowing one of the two: the pattern takes the timestamp from the end and leaves `<host>-<node>`
 * together in `hostNode`. The node is authoritative in the manifest; {@link splitHostNode} splits
 * the name when the host is known.
 */
export const ARCHIVE_SUFFIX = '.tar.gz';
export const ENCRYPTED_SUFFIX = '.tar.gz.age';
export const CHECKSUM_SUFFIX = '.sha256';
export const ARCHIVE_NAME_RE =
  /^conductor-backup-(?<hostNode>.+)-(?<stamp>\d{4}-\d{2}-\d{2}T\d{6}Z)\.tar\.gz(?<age>\.age)?$/;

/** `<host>-<node>` from an archive name → `{host, node}` when it starts with the given host. */
export function splitHostNode(hostNode: string, host: string): { host: string; node: string } | undefined {
  return hostNode.startsWith(`${host}-`) && hostNode.length > host.length + 1
    ? { host, node: hostNode.slice(host.length + 1) }
    : undefined;
}

/** `2026-11-24T113000Z` → Date (UTC). */
export function parseArchiveStamp(stamp: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(stamp);
  if (!m) return undefined;
  const d = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  return Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== stamp.slice(0, 10) ? undefined : d;
}

export type ManifestEntryType = 'file' | 'dir';

export interface ManifestEntry {
  /** Member name in the archive: the system path without its leading `/`. */
  path: string;
  type: ManifestEntryType;
  /** Bytes (0 for folders). */
  size: number;
  /** Permission bits as a number (e.g. 0o600 = 384). */
  mode: number;
  uid: number;
  gid: number;
  /** Owner and group names when known (restore prefers names, falls back to ids). */
  owner?: string;
  group?: string;
  /** Modification time, ISO 8601. */
  mtime: string;
  /** Lowercase hex SHA-256 of the content (files only). */
  sha256?: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  formatVersion: number;
  product: { name: string; version: string };
  createdAt: string;
  /** hostname of the conductor node that made the backup. */
  host: string;
  /** Node name from local.init `init.id`. */
  node: string;
  /** Router/conductor name from global.init `init.routerName`, when present. */
  conductorName?: string;
  /** SSR version when known. */
  ssrVersion?: string;
  /** Salt fingerprint (sha256, colon hex) of master.pub in this backup. */
  masterFingerprint?: string;
  /** System paths that were optional and absent. */
  missingOptional: string[];
  /** Paths inside included folders that were left out (symlinks, sockets, devices), with why. */
  skipped?: { path: string; reason: string }[];
  /** Every member after the manifest, in archive order. */
  entries: ManifestEntry[];
  /** Ed25519 signature over the rest of the manifest (signature.ts); absent in older and hand-made archives. */
  signature?: ManifestSignature;
}

/** `/etc/x` → `etc/x` (archive member name). */
export function memberNameFor(systemPath: string): string {
  return systemPath.replace(/^\/+/, '');
}

/** `etc/x` or `./etc/x` or `/etc/x` → `/etc/x`. */
export function systemPathFor(memberName: string): string {
  return `/${memberName.replace(/^(\.?\/+)+/, '').replace(/\/+$/, '')}`;
}

/** The seed's typo: `/svr/salt/…` → `/srv/salt/…` (used when restoring seed-made archives). */
export function fixSeedTypo(systemPath: string): string {
  return systemPath === '/svr/salt' || systemPath.startsWith('/svr/salt/')
    ? `/srv/salt${systemPath.slice('/svr/salt'.length)}`
    : systemPath;
}
