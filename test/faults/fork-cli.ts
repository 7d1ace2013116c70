/**
 * The fault suites' forked real CLI: `node dist/conductor-agent/bin.js <args>` with extra environment
 * (the `SSR_RECOVERY_<AREA>_FAULT` switch of shared/fault.ts), resolved with how it ended.
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../dist/conductor-agent/bin.js', import.meta.url));

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

export function forkCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.on('exit', (code, signal) => resolve({ code, signal, out, err }));
  });
}

/** The JSON document a `--json` run printed on stdout. */
export function docOf<T = Record<string, unknown>>(r: CliRun): T {
  try {
    return JSON.parse(r.out) as T;
  } catch {
    throw new Error(`not one JSON document (exit ${r.code}): ${r.out.slice(0, 400)} ${r.err.slice(-1200)}`);
  }
}

/** Temp files a killed atomic write could leave (`.<name>.<pid>.<hex>.tmp`), anywhere under `dir`. */
export async function leftoverTemps(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.tmp')) out.push(p);
    }
  };
  await walk(dir);
  return out;
}
