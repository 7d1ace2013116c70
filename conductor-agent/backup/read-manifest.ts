/**
 * Read only the manifest of an unencrypted archive (its first member), without reading the rest:
 * `backup list` uses it for the node name; restore may use it for a quick look before verifying.
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { MANIFEST_NAME, type Manifest } from '../../shared/backup/format.js';

/** The parsed manifest, or undefined when the first member is not one (seed-made archive) or unreadable. */
export function readManifest(path: string): Promise<Manifest | undefined> {
  return new Promise((resolve) => {
    const raw = createReadStream(path, { highWaterMark: 256 * 1024 });
    const gunzip = createGunzip();
    const parser = new Parser({ strict: false });
    let settled = false;
    const done = (m: Manifest | undefined): void => {
      if (settled) return;
      settled = true;
      raw.destroy();
      gunzip.destroy();
      resolve(m);
    };
    raw.on('error', () => done(undefined));
    gunzip.on('error', () => done(undefined));
    parser.on('error', () => done(undefined));
    parser.on('end', () => done(undefined));
    parser.on('entry', (entry: ReadEntry) => {
      if (entry.path.replace(/^\.\//, '') !== MANIFEST_NAME) return done(undefined);
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => chunks.push(c));
      entry.on('end', () => {
        try {
          done(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Manifest);
        } catch {
          done(undefined);
        }
      });
    });
    raw.pipe(gunzip).pipe(parser);
  });
}
