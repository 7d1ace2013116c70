/**
 * The file system operations extraction performs inside the staging folder, as plain data so they
 * can run on the calling thread or in the writer worker, strictly in order. Paths are absolute
 * staging paths chosen by the extractor (never by the archive).
 */
import type * as nodeFs from 'node:fs';

export type StagingOp =
  | { op: 'mkdir'; path: string }
  /** Create (O_EXCL) with the member's final permission bits. */
  | { op: 'open'; path: string; mode: number }
  | { op: 'data'; data: Uint8Array }
  /** `report`: add the path to `state.closed` once closed (large files get an early writeback). */
  | { op: 'close'; uid: number; gid: number; mode: number; mtime: number; report?: string }
  | { op: 'symlink'; target: string; path: string; uid: number; gid: number }
  | { op: 'link'; existing: string; path: string }
  | { op: 'dirmeta'; path: string; uid: number; gid: number; mode: number; mtime: number };

/** What carries over between batches: the open file, and the reported paths closed since last asked. */
export interface StagingState {
  fd?: number | undefined;
  closed: string[];
}

/** The synchronous `node:fs` calls the staging operations use. */
export type StagingFs = Pick<
  typeof nodeFs,
  | 'chmodSync'
  | 'closeSync'
  | 'fchmodSync'
  | 'fchownSync'
  | 'fstatSync'
  | 'futimesSync'
  | 'lchownSync'
  | 'linkSync'
  | 'lutimesSync'
  | 'mkdirSync'
  | 'openSync'
  | 'symlinkSync'
  | 'writeSync'
>;

/**
 * Run `ops` in order; `state.fd` carries the open file between calls. Throws on the first failure
 * (the open file is closed). Serialised into the writer worker (worker-source.ts): self-contained.
 *
 * A file is created with its final permission bits, and owner and mode are set only when the
 * created file does not already carry them (one cheap fstat instead of a chown and a chmod per
 * file: the benchmark conductor has 12,000 files, and umask, default ACLs or a setgid folder can
 * make the created file differ, in which case the calls are made as before).
 */
export function applyStagingOps(fs: StagingFs, ops: readonly StagingOp[], state: StagingState): void {
  for (const o of ops) {
    try {
      switch (o.op) {
        case 'mkdir':
          fs.mkdirSync(o.path, { recursive: true, mode: 0o700 });
          break;
        case 'open':
          state.fd = fs.openSync(o.path, 'wx', o.mode & 0o777);
          break;
        case 'data': {
          const fd = state.fd!;
          let off = 0;
          while (off < o.data.length) off += fs.writeSync(fd, o.data, off, o.data.length - off);
          break;
        }
        case 'close': {
          const fd = state.fd!;
          state.fd = undefined;
          try {
            const st = fs.fstatSync(fd);
            if (st.uid !== o.uid || st.gid !== o.gid) fs.fchownSync(fd, o.uid, o.gid);
            // chown may clear mode bits: compare again only when it ran.
            if (st.uid !== o.uid || st.gid !== o.gid || (st.mode & 0o7777) !== o.mode) fs.fchmodSync(fd, o.mode);
            fs.futimesSync(fd, o.mtime, o.mtime);
          } finally {
            fs.closeSync(fd);
          }
          if (o.report !== undefined) state.closed.push(o.report);
          break;
        }
        case 'symlink':
          fs.symlinkSync(o.target, o.path);
          fs.lchownSync(o.path, o.uid, o.gid);
          break;
        case 'link':
          fs.linkSync(o.existing, o.path);
          break;
        case 'dirmeta':
          fs.lchownSync(o.path, o.uid, o.gid);
          fs.chmodSync(o.path, o.mode);
          fs.lutimesSync(o.path, o.mtime, o.mtime);
          break;
      }
    } catch (err) {
      const fd = state.fd;
      if (fd !== undefined) {
        state.fd = undefined;
        try {
          fs.closeSync(fd);
        } catch {
          /* already failing */
        }
      }
      throw err;
    }
  }
}

/**
 * The writer worker's body (runs from source text, see worker-source.ts): batches of operations
 * in order; reports the bytes each batch carried (backpressure), the large files closed, and the
 * first failure.
 */
export function stagingWorkerMain(): void {
  const { parentPort } = require('node:worker_threads') as typeof import('node:worker_threads');
  const fs = require('node:fs') as StagingFs;
  const state: StagingState = { closed: [] };
  let failed = false;
  parentPort!.on('message', (m: { ops?: StagingOp[]; bytes?: number; finish?: boolean }) => {
    if (m.finish) {
      parentPort!.postMessage({ finished: true });
      return;
    }
    if (!failed && m.ops) {
      try {
        applyStagingOps(fs, m.ops, state);
      } catch (err) {
        failed = true;
        parentPort!.postMessage({
          error: { message: (err as Error).message, code: (err as NodeJS.ErrnoException).code },
        });
      }
    }
    parentPort!.postMessage({ done: m.bytes ?? 0, closed: state.closed.splice(0) });
  });
}
