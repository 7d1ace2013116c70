/**
 * Where extraction's writes go. The main thread parses, checks and hashes; the file system calls
 * (thousands of creates, each with owner, mode and times) run on a second core in a writer worker,
 * in order, fed batched operations. `inlineStagingWriter` does the same calls synchronously (the
 * fallback, and the reference the worker is tested against).
 */
import * as fs from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { applyStagingOps, stagingWorkerMain, type StagingOp, type StagingState } from './staging-ops.js';
import { startWorker } from './worker-source.js';

export interface StagingWriter {
  push(op: StagingOp): void;
  /** Wait until every pushed operation is done; rejects with the first failure. */
  finish(): Promise<void>;
  /** Bytes pushed but not yet written (for backpressure). */
  backlog(): number;
  /** Resolves when the backlog drops under the low-water mark. */
  drained(): Promise<void>;
  /** Stop; pending operations may or may not have run. Resolves when nothing runs any more. */
  abort(): Promise<void>;
}

export interface StagingWriterOptions {
  /** Called (on the calling thread) once a `close` op with `report` has run. */
  onClosed?: (path: string) => void;
}

/** Synchronous writes on the calling thread. */
export function inlineStagingWriter(options: StagingWriterOptions = {}): StagingWriter {
  let failure: unknown;
  const state: StagingState = { closed: [] };
  return {
    push(op) {
      if (failure !== undefined) return;
      try {
        applyStagingOps(fs, [op], state);
        for (const p of state.closed.splice(0)) options.onClosed?.(p);
      } catch (err) {
        failure = err;
      }
    },
    finish: async () => {
      if (failure !== undefined) throw failure;
    },
    backlog: () => 0,
    drained: async () => undefined,
    abort: async () => undefined,
  };
}

const BATCH_BYTES = 1 << 20;
const BATCH_OPS = 512;
const HIGH_WATER = 64 << 20;

/** A writer worker; falls back to inline writes when a worker cannot start. */
export function workerStagingWriter(options: StagingWriterOptions = {}): StagingWriter {
  let worker: Worker;
  try {
    worker = startWorker(stagingWorkerMain, [applyStagingOps]);
  } catch {
    return inlineStagingWriter(options);
  }
  let batch: StagingOp[] = [];
  let batchBytes = 0;
  let inFlight = 0;
  let failure: unknown;
  let exited = false;
  const waiters: (() => void)[] = [];
  const wake = (): void => {
    while (waiters.length) waiters.shift()!();
  };
  let finished: ((err?: unknown) => void) | undefined;
  worker.on(
    'message',
    (m: { done?: number; closed?: string[]; error?: { message: string; code?: string }; finished?: boolean }) => {
      if (m.error && failure === undefined) failure = Object.assign(new Error(m.error.message), { code: m.error.code });
      for (const p of m.closed ?? []) options.onClosed?.(p);
      if (m.done !== undefined) inFlight -= m.done;
      if (inFlight < HIGH_WATER / 2) wake();
      if (m.finished) finished?.(failure);
    },
  );
  worker.on('error', (err) => {
    failure ??= err;
    wake();
    finished?.(failure);
  });
  worker.on('exit', () => {
    exited = true;
    wake();
    finished?.(failure ?? new Error('the staging writer stopped'));
  });
  const send = (): void => {
    if (!batch.length) return;
    // Data chunks are views of shared memory (shared-chunks.ts): posting shares them, no copy.
    worker.postMessage({ ops: batch, bytes: batchBytes });
    batch = [];
    batchBytes = 0;
  };
  return {
    push(op) {
      if (failure !== undefined) return;
      const bytes = op.op === 'data' ? op.data.length : 64;
      batch.push(op);
      batchBytes += bytes;
      inFlight += bytes;
      if (batchBytes >= BATCH_BYTES || batch.length >= BATCH_OPS) send();
    },
    finish() {
      return new Promise<void>((resolve, reject) => {
        finished = (err) => {
          finished = undefined;
          void worker.terminate();
          if (err !== undefined) reject(err);
          else resolve();
        };
        if (exited) return finished(failure ?? new Error('the staging writer stopped'));
        send();
        worker.postMessage({ finish: true });
      });
    },
    backlog: () => inFlight,
    drained: () =>
      inFlight < HIGH_WATER / 2 || failure !== undefined || exited
        ? Promise.resolve()
        : new Promise((r) => waiters.push(r)),
    async abort() {
      batch = [];
      await worker.terminate();
    },
  };
}

export const STAGING_HIGH_WATER = HIGH_WATER;
