/**
 * The file system operations extraction performs inside the staging folder, as plain data so they
 * can run on the calling thread or in the writer worker, strictly in order. Paths are absolute
 * staging paths chosen by the extractor (never by the archive).
 */
import { chmodSync, closeSync, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lutimesSync, mkdirSync, openSync, symlinkSync, writeSync } from 'node:fs';

export type StagingOp =
  | { op: 'mkdir'; path: string }
  | { op: 'open'; path: string }
  | { op: 'data'; data: Uint8Array }
  | { op: 'close'; uid: number; gid: number; mode: number; mtime: number }
  | { op: 'symlink'; target: string; path: string; uid: number; gid: number }
  | { op: 'link'; existing: string; path: string }
  | { op: 'dirmeta'; path: string; uid: number; gid: number; mode: number; mtime: number };

/** Run `ops` in order; `state` carries the open file between calls. Throws on the first failure (the open file is closed). */
export function applyOps(ops: readonly StagingOp[], state: Map<string, number>): void {
  for (const o of ops) {
    try {
      switch (o.op) {
        case 'mkdir':
          mkdirSync(o.path, { recursive: true, mode: 0o700 });
          break;
        case 'open':
          state.set('fd', openSync(o.path, 'wx', 0o600));
          break;
        case 'data': {
          const fd = state.get('fd')!;
          let off = 0;
          while (off < o.data.length) off += writeSync(fd, o.data, off, o.data.length - off);
          break;
        }
        case 'close': {
          const fd = state.get('fd')!;
          state.delete('fd');
          try {
            fchownSync(fd, o.uid, o.gid);
            fchmodSync(fd, o.mode);
            futimesSync(fd, o.mtime, o.mtime);
          } finally {
            closeSync(fd);
          }
          break;
        }
        case 'symlink':
          symlinkSync(o.target, o.path);
          lchownSync(o.path, o.uid, o.gid);
          break;
        case 'link':
          linkSync(o.existing, o.path);
          break;
        case 'dirmeta':
          lchownSync(o.path, o.uid, o.gid);
          chmodSync(o.path, o.mode);
          lutimesSync(o.path, o.mtime, o.mtime);
          break;
      }
    } catch (err) {
      const fd = state.get('fd');
      if (fd !== undefined) {
        state.delete('fd');
        try { closeSync(fd); } catch { /* already failing */ }
      }
      throw err;
    }
  }
}
