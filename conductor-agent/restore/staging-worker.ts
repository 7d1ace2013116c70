/**
 * The writer worker of {@link workerStagingWriter}: runs batches of staging operations in order
 * and reports how many bytes each batch carried (backpressure) and the first failure.
 */
import { parentPort } from 'node:worker_threads';
import { applyOps, type StagingOp } from './staging-ops.js';

const state = new Map<string, number>();
let failed = false;
parentPort?.on('message', (m: { ops?: StagingOp[]; bytes?: number; finish?: boolean }) => {
  if (m.finish) {
    parentPort?.postMessage({ finished: true });
    return;
  }
  if (!failed && m.ops) {
    try {
      applyOps(m.ops, state);
    } catch (err) {
      failed = true;
      parentPort?.postMessage({ error: { message: (err as Error).message, code: (err as NodeJS.ErrnoException).code } });
    }
  }
  parentPort?.postMessage({ done: m.bytes ?? 0 });
});
