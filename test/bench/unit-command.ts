/**
 * How a systemd unit of ours starts node: ExecStart's node options and script (under
 * `{{ ssr.prefix }}`), as this checkout's paths. The benches start the daemons exactly so, read from
 * the unit, so a flag added there is measured and the two cannot drift.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));

/** `[...nodeOptions, scriptPath]` for the unit `salt-states/ssr_recovery/files/<unit>`. */
export function unitCommand(unit: string): string[] {
  const unitFile = join(repo, 'salt-states/ssr_recovery/files', unit);
  const line = /^ExecStart=(.*)$/m.exec(readFileSync(unitFile, 'utf8'))?.[1] ?? '';
  const m = /^\{\{ ssr\.node\.bin \}\}((?:\s+-\S+)*)\s+\{\{ ssr\.prefix \}\}\/(\S+)\s/.exec(line);
  if (!m)
    throw new Error(
      `${unitFile}: ExecStart is not "{{ ssr.node.bin }} [node options] {{ ssr.prefix }}/<script> …": ${line}`,
    );
  return [...m[1]!.trim().split(/\s+/).filter(Boolean), join(repo, m[2]!)];
}
