/**
 * Read only the manifest of an unencrypted archive (its first member), without reading the rest,
 * through the one archive reader: `backup list` uses it for the node name.
 */
import type { Manifest } from '../../shared/backup/format.js';
import { readArchive } from './archive-reader.js';

/** The parsed manifest, or undefined when the first member is not one (seed-made archive) or unreadable. */
export async function readManifest(path: string): Promise<Manifest | undefined> {
  return (await readManifestRaw(path))?.manifest;
}

/** The manifest and the JSON of its exact bytes (what a signature is judged on: the validated copy drops fields). */
export async function readManifestRaw(path: string): Promise<{ manifest: Manifest; raw: unknown } | undefined> {
  try {
    const read = await readArchive({ archive: path, firstOnly: true });
    if (!read.manifest) return undefined;
    const raw = read.manifestBytes ? (JSON.parse(read.manifestBytes.toString('utf8')) as unknown) : read.manifest;
    return { manifest: read.manifest, raw };
  } catch {
    return undefined;
  }
}
