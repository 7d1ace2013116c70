/**
 * Reading side of the manifest contract (shared/backup/format.ts): parse and validate the first
 * member of an archive. A manifest is untrusted input; this only checks that it is well formed and
 * of a version we understand. Unknown extra fields are allowed (newer writers may add some).
 */
import { z } from 'zod';
import { ArchiveError } from '../../shared/errors.js';
import { MANIFEST_FORMAT, MANIFEST_VERSION, systemPathFor, type Manifest } from '../../shared/backup/format.js';

const entry = z
  .object({
    path: z.string().min(1),
    type: z.enum(['file', 'dir']),
    size: z.number().int().nonnegative(),
    mode: z.number().int().min(0).max(0o7777),
    uid: z.number().int().nonnegative(),
    gid: z.number().int().nonnegative(),
    owner: z.string().optional(),
    group: z.string().optional(),
    mtime: z.string(),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
  })
  .refine((e) => e.type === 'dir' || e.sha256 !== undefined, { message: 'file entries need sha256' });

const manifest = z.object({
  format: z.literal(MANIFEST_FORMAT),
  formatVersion: z.number().int(),
  product: z.object({ name: z.string(), version: z.string() }),
  createdAt: z.string(),
  host: z.string(),
  node: z.string(),
  conductorName: z.string().optional(),
  ssrVersion: z.string().optional(),
  masterFingerprint: z.string().optional(),
  missingOptional: z.array(z.string()),
  entries: z.array(entry),
});

const invalid = (message: string, details: Record<string, unknown> = {}): ArchiveError =>
  new ArchiveError('ARCHIVE_MANIFEST_INVALID', message, {
    details,
    hint: 'Nothing was changed. Use an archive written by `conductor-agent backup create` of this or an older version.',
  });

/** Parse the manifest bytes; throws ARCHIVE_MANIFEST_INVALID. */
export function parseManifest(bytes: Buffer): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw invalid(`the manifest is not JSON: ${(err as Error).message}`);
  }
  const version = (json as { formatVersion?: unknown } | null)?.formatVersion;
  if (typeof version === 'number' && version > MANIFEST_VERSION) {
    throw invalid(`the manifest is format version ${version}; this build reads up to ${MANIFEST_VERSION}`, {
      formatVersion: version,
    });
  }
  const r = manifest.safeParse(json);
  if (!r.success)
    throw invalid(
      `the manifest is malformed: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  if (r.data.formatVersion !== MANIFEST_VERSION)
    throw invalid(`unknown manifest format version ${r.data.formatVersion}`);
  const seen = new Set<string>();
  for (const e of r.data.entries) {
    const p = systemPathFor(e.path);
    if (seen.has(p)) throw invalid(`the manifest lists ${p} twice`, { path: p });
    seen.add(p);
  }
  return r.data as Manifest;
}

/** Manifest entries keyed by system path. */
export function manifestIndex(m: Manifest): Map<string, Manifest['entries'][number]> {
  return new Map(m.entries.map((e) => [systemPathFor(e.path), e]));
}
