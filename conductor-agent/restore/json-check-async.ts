/**
 * A JSON syntax check that runs beside extraction: in a worker thread when one can be started
 * (the check then costs the main thread only a copy of each chunk), inline otherwise. Small files
 * are checked inline: a worker costs more to start than checking them.
 */
import type { Worker } from 'node:worker_threads';
import { createJsonChecker, jsonWorkerMain } from './json-check.js';
import { joinShared } from './shared-chunks.js';
import { startWorker } from './worker-source.js';

/** Files smaller than this are checked on the calling thread. */
export const JSON_WORKER_MIN_BYTES = 1 << 20;

export interface AsyncJsonCheck {
  /** True when the check also hashes the bytes (SHA-256, in its worker): `end` then gives `sha256`. */
  readonly hashes: boolean;
  write(chunk: Uint8Array): void;
  /** Resolves with the syntax error (undefined: valid) and, when `hashes`, the SHA-256 of the bytes. */
  end(): Promise<{ error: string | undefined; sha256?: string | undefined }>;
  /** Stop checking (the extraction failed). */
  abort(): void;
}

/** Start checking a file of `size` bytes. */
export function startJsonCheck(fileSize = JSON_WORKER_MIN_BYTES): AsyncJsonCheck {
  let worker: Worker | undefined;
  if (fileSize >= JSON_WORKER_MIN_BYTES) {
    try {
      worker = startWorker(jsonWorkerMain, [createJsonChecker]);
      worker.unref();
    } catch {
      worker = undefined;
    }
  }
  if (!worker) {
    const c = createJsonChecker();
    return { hashes: false, write: (b) => c.write(b), end: async () => ({ error: c.end() }), abort: () => undefined };
  }
  const w = worker;
  let failed: Error | undefined;
  w.on('error', (err) => {
    failed = err;
  });
  // Batch chunks into messages of up to 4 MiB: one message per chunk costs more than the check
  // itself. Chunks in shared memory (shared-chunks.ts) that follow each other are joined into one
  // view without copying; other chunks are copied into a batch that is transferred.
  let pending: Uint8Array[] = [];
  let size = 0;
  const flush = (): void => {
    if (!size) return;
    if (pending.length === 1 && pending[0]!.buffer instanceof SharedArrayBuffer) w.postMessage(pending[0]);
    else {
      const batch = Buffer.concat(pending, size);
      const owned = batch.byteOffset === 0 && batch.byteLength === batch.buffer.byteLength;
      w.postMessage(batch, owned ? [batch.buffer as ArrayBuffer] : []);
    }
    pending = [];
    size = 0;
  };
  return {
    hashes: true,
    write: (b) => {
      const joined = pending.length === 1 ? joinShared(pending[0]!, b) : undefined;
      if (joined) pending[0] = joined;
      else {
        if (
          b.buffer instanceof SharedArrayBuffer ||
          (pending.length === 1 && pending[0]!.buffer instanceof SharedArrayBuffer)
        )
          flush();
        pending.push(b);
      }
      size += b.length;
      if (size >= 4 * 1024 * 1024) flush();
    },
    end: () =>
      new Promise((resolve) => {
        flush();
        const unavailable = (err: Error): void => resolve({ error: `the JSON check could not run (${err.message})` });
        if (failed) return unavailable(failed);
        w.once('message', (m: { error: string | null; sha256: string }) => {
          void w.terminate();
          resolve({ error: m.error ?? undefined, sha256: m.sha256 });
        });
        w.once('error', unavailable);
        w.postMessage(null);
      }),
    abort: () => {
      void w.terminate();
    },
  };
}
