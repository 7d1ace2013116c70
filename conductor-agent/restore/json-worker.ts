/**
 * Worker thread for {@link JsonChecker}: checking the ~200 MB running config's syntax runs on
 * another core while the main thread keeps extracting. Messages: chunks, then `null` for the end;
 * the answer is the error text or `null`.
 */
import { parentPort } from 'node:worker_threads';
import { JsonChecker } from './json-check.js';

const checker = new JsonChecker();
parentPort?.on('message', (m: Uint8Array | null) => {
  if (m === null) parentPort?.postMessage(checker.end() ?? null);
  else checker.write(m);
});
