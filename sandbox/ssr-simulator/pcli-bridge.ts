/**
 * A real command line for the simulated PCLI: a small POSIX sh script that sends its arguments (one
 * line) to the simulator's `/sim/pcli` with curl and exits non-zero when the PCLI refused the command.
 * The conductor-agent runs it exactly as it runs the real `pcli` (`ssr.pcliCommand`), argv only.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

// PCLI words never hold whitespace (pcli.ts refuses them), so "$*" is the line, unambiguous. No
// subshells or pipes: one sh and one curl per command, as cheap as a command line can be.
const SCRIPT = `#!/bin/sh
# Simulated PCLI: sandbox/ssr-simulator/pcli-bridge.ts. Usage: pcli-sim URL SECRET_FILE word...
url=$1; secret_file=$2; shift 2
read -r secret < "$secret_file" || exit 2
exec curl -sS --fail-with-body --max-time 60 -H "X-Sim-Secret: $secret" --data-binary "$*" "$url/sim/pcli"
`;

/** Write the bridge and its secret (0600) under `dir`; returns the `ssr.pcliCommand` line to use. */
export async function writePcliBridge(dir: string, simUrl: string, secret: string): Promise<string> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const script = join(dir, 'pcli-sim');
  const secretFile = join(dir, 'pcli-sim.secret');
  await fsp.writeFile(secretFile, `${secret}\n`, { mode: 0o600 });
  await fsp.writeFile(script, SCRIPT, { mode: 0o700 });
  return [script, simUrl, secretFile].map((w) => `'${w.replace(/'/g, '')}'`).join(' ');
}
