/**
 * Read only the manifest of an unencrypted archive (its first member), without reading the rest,
 * through the one archive reader: `backup list` uses it for the node name.
 */
import type { Manifest } from '../../shared/backup/format.js';
import { readArchive } from './archive-reader.js';

/** The parsed manifest, or undefined when the first member is not one (seed-made archive) or unreadable. */
export async function readManifest(path: string): Promise<Manifest | undefined> {
  try {
    return (await readArchive({ archive: path, firstOnly: true })).manifest;
  } catch {
    return undefined;
  }
}
