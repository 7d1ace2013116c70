/**
 * A cheap look at an archive before anything else: its first member, parsed as our manifest when
 * it is one. Reads only the first few blocks, so preflight can check versions, identity and disk
 * space without decompressing the whole archive.
 */
import { promises as fsp } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { ArchiveError, RecoveryError } from '../../shared/errors.js';
import { MANIFEST_NAME, type Manifest } from '../../shared/backup/format.js';
import { openArchive } from './archive-source.js';
import { parseManifest } from './manifest-check.js';

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
export async function peekArchive(archive: string, options: { identityFile?: string | undefined; maxManifestBytes?: number } = {}): Promise<Peek> {
  const src = await openArchive(archive, options);
  const gunzip = createGunzip();
  const parser = new Parser({ strict: true });
  const max = options.maxManifestBytes ?? 64 * 1024 ** 2;
  const first = await new Promise<{ name: string; body?: Buffer } | undefined>((resolve, reject) => {
    let done = false;
    const finish = (err: unknown, v?: { name: string; body?: Buffer }): void => {
      if (done) return;
      done = true;
      src.stream.destroy();
      gunzip.destroy();
      if (err) reject(err instanceof RecoveryError ? err : new ArchiveError('ARCHIVE_CORRUPT', `${archive} is not a readable gzip'd tar: ${(err as Error).message}`, {
        cause: err, details: { archive }, hint: 'Nothing was changed. Use another backup, or check it with `conductor-agent backup verify`.',
      }));
      else resolve(v);
    };
    parser.on('entry', (e: ReadEntry) => {
      if (e.path !== MANIFEST_NAME) return finish(undefined, { name: e.path });
      if (e.size > max) return finish(new ArchiveError('ARCHIVE_TOO_LARGE', `the manifest is ${e.size} bytes`, { details: { reason: 'manifest-too-large' } }));
      const chunks: Buffer[] = [];
      e.on('data', (c: Buffer) => chunks.push(c));
      e.on('end', () => finish(undefined, { name: e.path, body: Buffer.concat(chunks) }));
    });
    parser.on('ignoredEntry', (e: ReadEntry) => finish(undefined, { name: e.path }));
    parser.on('warn', (code: string, msg: string | Error) => finish(new ArchiveError('ARCHIVE_CORRUPT', `${archive}: ${msg instanceof Error ? msg.message : msg}`, { details: { tarCode: code } })));
    parser.on('end', () => finish(undefined, undefined));
    src.stream.on('error', (err) => finish(err));
    gunzip.on('error', (err) => finish(err));
    gunzip.on('data', (c: Buffer) => parser.write(c));
    gunzip.on('end', () => parser.end());
    src.stream.pipe(gunzip);
  });
  if (!first) throw new ArchiveError('ARCHIVE_CORRUPT', `${archive} holds no members`, { details: { archive } });
  const manifest = first.body ? parseManifest(first.body) : undefined;
  let estimate = src.fileSize;
  if (manifest) estimate = manifest.entries.reduce((s, e) => s + e.size + 1024, 0);
  else if (!src.encrypted) estimate = Math.max(estimate, await gzipIsize(archive));
  return { manifest, ...(first.body ? { manifestBytes: first.body } : {}), encrypted: src.encrypted, fileSize: src.fileSize, expandedEstimate: estimate };
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
