import type { CliIo } from '../../shared/cli/io.js';

/** An in-memory CliIo: run a CLI in-process and read what it printed. */
export function memoryIo(env: NodeJS.ProcessEnv = {}): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
    env,
    isTTY: false,
    out: () => out,
    err: () => err,
  };
}
