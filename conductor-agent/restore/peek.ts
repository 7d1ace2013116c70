/**
 * A cheap look at an archive before anything else: its first member, parsed as our manifest when
 * it is one, through the one archive reader (backup/archive-reader.ts). Reads only the first few
 * blocks, so preflight can check versions, identity and disk space without decompressing the
 * whole archive.
 */
import { promises as fsp } from 'node:fs';
import type { Manifest } from '../../shared/backup/format.js';
import { readArchive } from '../backup/archive-reader.js';

export interface Peek {
  manifest: Manifest | undefined;
  /** The manifest member's bytes (extraction reuses the parsed manifest when it reads the same bytes). */
  manifestBytes?: Buffer;
  encrypted: boolean;
  fileSize: number;
  /** Uncompressed size estimate: the manifest's total, else the gzip trailer (ISIZE), else the file size. */
  expandedEstimate: number;
}

/** Read the first member of `archive`. Throws ARCHIVE_* errors for unreadable archives and manifests. */
export async function peekArchive(
  archive: string,
  options: { identityFile?: string | undefined; maxManifestBytes?: number } = {},
): Promise<Peek> {
  const limits = { maxManifestBytes: options.maxManifestBytes };
  const first = await readArchive({ archive, identityFile: options.identityFile, firstOnly: true, limits });
  const { manifest } = first;
  let estimate = first.fileSize;
  if (manifest) estimate = manifest.entries.reduce((s, e) => s + e.size + 1024, 0);
  else if (!first.encrypted) estimate = Math.max(estimate, await gzipIsize(archive));
  return {
    manifest,
    ...(manifest && first.manifestBytes ? { manifestBytes: first.manifestBytes } : {}),
    encrypted: first.encrypted,
    fileSize: first.fileSize,
    expandedEstimate: estimate,
  };
}

/** The gzip trailer's ISIZE (uncompressed size mod 2^32 of the last member): a hint, not a promise. */
async function gzipIsize(archive: string): Promise<number> {
  const fh = await fsp.open(archive, 'r');
  try {
    const { size } = await fh.stat();
    if (size < 4) return 0;
    const b = Buffer.alloc(4);
    await fh.read(b, 0, 4, size - 4);
    return b.readUInt32LE(0);
  } finally {
    await fh.close();
  }
}
