/**
 * A JSON syntax check that runs beside extraction: in a worker thread when one can be started
 * (the check then costs the main thread only a copy of each chunk), inline otherwise.
 */
import { Worker } from 'node:worker_threads';
import { JsonChecker } from './json-check.js';

export interface AsyncJsonCheck {
  write(chunk: Uint8Array): void;
  /** Resolves with undefined (valid) or the syntax error. */
  end(): Promise<string | undefined>;
  /** Stop checking (the extraction failed). */
  abort(): void;
}

export function startJsonCheck(): AsyncJsonCheck {
  let worker: Worker | undefined;
  try {
    // From source (tsx) the sibling is .ts; from the build it is .js.
    // From source (tests, benchmarks under tsx) the worker must register tsx itself: Node 20 workers
    // do not take `--import`. From the build it is plain JS.
    worker = import.meta.url.endsWith('.ts')
      ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(new URL('./json-worker.ts', import.meta.url).href)}); });`, { eval: true })
      : new Worker(new URL('./json-worker.js', import.meta.url));
    worker.unref();
  } catch {
    worker = undefined;
  }
  if (!worker) {
    const c = new JsonChecker();
    return { write: (b) => c.write(b), end: async () => c.end(), abort: () => undefined };
  }
  const w = worker;
  let failed: Error | undefined;
  w.on('error', (err) => { failed = err; });
  // Batch chunks into 4 MiB transfers: one message per chunk costs more than the check itself.
  let pending: Uint8Array[] = [];
  let size = 0;
  const flush = (): void => {
    if (!size) return;
    const batch = Buffer.concat(pending, size);
    const owned = batch.byteOffset === 0 && batch.byteLength === batch.buffer.byteLength;
    w.postMessage(batch, owned ? [batch.buffer as ArrayBuffer] : []);
    pending = [];
    size = 0;
  };
  return {
    write: (b) => {
      pending.push(b);
      size += b.length;
      if (size >= 4 * 1024 * 1024) flush();
    },
    end: () => new Promise((resolve) => {
      flush();
      const unavailable = (err: Error): void => resolve(`the JSON check could not run (${err.message})`);
      if (failed) return unavailable(failed);
      w.once('message', (m: string | null) => {
        void w.terminate();
        resolve(m ?? undefined);
      });
      w.once('error', unavailable);
      w.postMessage(null);
    }),
    abort: () => { void w.terminate(); },
  };
}
