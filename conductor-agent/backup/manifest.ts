/**
 * The manifest member: built once with fixed-width placeholders before any file is read, and again
 * with the real hashes after streaming. Both serialise to the same number of bytes (hashes are
 * fixed-width hex), which is what lets the writer overwrite the first gzip member in place.
 */
import {
  MANIFEST_FORMAT,
  MANIFEST_NAME,
  MANIFEST_VERSION,
  memberNameFor,
  type Manifest,
  type ManifestEntry,
} from '../../shared/backup/format.js';
import { PRODUCT_NAME, PRODUCT_VERSION } from '../../shared/version.js';
import { encodeHeader, padding } from './tar-header.js';
import type { CollectedEntry } from './collect.js';

/** 64 hex zeros: the width of a SHA-256. */
export const HASH_PLACEHOLDER = '0'.repeat(64);
/** Width of a Salt sha256 fingerprint (32 colon-separated hex pairs). */
export const FINGER_PLACEHOLDER = Array.from({ length: 32 }, () => '00').join(':');

export interface ManifestMeta {
  createdAt: Date;
  host: string;
  node: string;
  conductorName?: string | undefined;
  ssrVersion?: string | undefined;
  /** True when master.pub is in the backup (its fingerprint is filled in after streaming). */
  hasMasterPub: boolean;
  missingOptional: string[];
  skipped: { path: string; reason: string }[];
}

function entryFor(e: CollectedEntry, sha256: string | undefined): ManifestEntry {
  // Plain assignments, not spreads: this runs once per file (12,000 on a large conductor).
  const out: ManifestEntry = {
    path: memberNameFor(e.systemPath),
    type: e.type,
    size: e.size,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    mtime: '',
  };
  if (e.owner !== undefined) out.owner = e.owner;
  if (e.group !== undefined) out.group = e.group;
  out.mtime = new Date(Math.floor(e.mtimeMs / 1000) * 1000).toISOString();
  if (e.type === 'file') out.sha256 = sha256 ?? HASH_PLACEHOLDER;
  return out;
}

/** The manifest object; without `hashes` every hash is a placeholder of the final width. */
export function buildManifest(
  meta: ManifestMeta,
  entries: CollectedEntry[],
  hashes?: readonly string[],
  masterFingerprint?: string,
): Manifest {
  return {
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_VERSION,
    product: { name: PRODUCT_NAME, version: PRODUCT_VERSION },
    createdAt: meta.createdAt.toISOString(),
    host: meta.host,
    node: meta.node,
    ...(meta.conductorName !== undefined ? { conductorName: meta.conductorName } : {}),
    ...(meta.ssrVersion !== undefined ? { ssrVersion: meta.ssrVersion } : {}),
    ...(meta.hasMasterPub ? { masterFingerprint: masterFingerprint ?? FINGER_PLACEHOLDER } : {}),
    missingOptional: meta.missingOptional,
    ...(meta.skipped.length ? { skipped: meta.skipped } : {}),
    entries: entries.map((e, i) => entryFor(e, hashes?.[i])),
  };
}

/** JSON with one entry per line: small, and still readable with `tar -xOzf … | less`. */
export function serializeManifest(m: Manifest): Buffer {
  const { entries, ...head } = m;
  const headJson = JSON.stringify(head);
  const body = entries.map((e) => JSON.stringify(e)).join(',\n');
  return Buffer.from(`${headJson.slice(0, -1)},"entries":[\n${body}\n]}\n`, 'utf8');
}

/**
 * The manifest's tar member: header + JSON + padding to 512 bytes. With `jsonLength`, the JSON is
 * padded with trailing spaces (valid JSON whitespace) to exactly that length, so the final manifest
 * fits the placeholder's bytes even when it is shorter (e.g. no fingerprint for a non-PEM master.pub).
 * `serialized` skips serialising again when the caller already has the JSON of `m`.
 */
export function manifestMember(m: Manifest, jsonLength?: number, serialized?: Buffer): Buffer {
  let json = serialized ?? serializeManifest(m);
  if (jsonLength !== undefined && json.length < jsonLength) {
    json = Buffer.concat([
      json.subarray(0, json.length - 1),
      Buffer.alloc(jsonLength - json.length, 0x20),
      Buffer.from('\n'),
    ]);
  }
  const header = encodeHeader({
    name: MANIFEST_NAME,
    type: 'file',
    size: json.length,
    mode: 0o600,
    uid: 0,
    gid: 0,
    uname: 'root',
    gname: 'root',
    mtime: Math.floor(Date.parse(m.createdAt) / 1000),
  });
  return Buffer.concat([header, json, Buffer.alloc(padding(json.length))]);
}
