/**
 * Starts restore's worker threads from source text instead of from a module file. A worker's body
 * is a plain function of this package, serialised with `Function.prototype.toString` together with
 * the functions it calls, so the worker needs no module loader: from the build it is the compiled
 * JS, and from source (tests and benchmarks run under tsx) it avoids registering tsx inside every
 * worker, which costs ~0.25 s of CPU per worker (a loader thread plus a TypeScript transform per
 * imported module) — more than some workers' whole job on a 2-core conductor.
 *
 * Rules for the functions passed here (checked by the staging-writer and JSON-check tests, which
 * run them in a worker): `function` declarations; no imports and no references to module scope
 * (take node built-ins with `require` inside, or as parameters); no TypeScript runtime constructs
 * (enums, parameter properties).
 */
import { Worker } from 'node:worker_threads';

/** Source text of a worker running `main()` with `deps` declared beside it. */
export function workerSource(main: () => void, deps: readonly ((...args: never[]) => unknown)[] = []): string {
  return [
    '"use strict";',
    // esbuild (tsx) keeps function names by wrapping them in `__name(fn, "name")`: give it a no-op.
    'var __name = (f) => f;',
    // The release bundle (esbuild, ESM output) writes the bodies' require() calls as __require().
    'var __require = require;',
    ...deps.map((f) => f.toString()),
    `(${main.toString()})();`,
  ].join('\n');
}

/** A worker running `main()`; throws when a worker cannot be started (callers fall back to inline work). */
export function startWorker(main: () => void, deps: readonly ((...args: never[]) => unknown)[] = []): Worker {
  return new Worker(workerSource(main, deps), { eval: true });
}
