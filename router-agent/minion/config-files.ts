/**
 * The minion's configuration as Salt reads it: `<configDir>/minion`, then `<configDir>/minion.d/*.conf`
 * in sorted order, a later file overriding an earlier one (Salt's `default_include`). We only need a
 * few top-level scalar keys (`id`, `master_finger`), so this reads `key: value` lines instead of
 * loading a YAML parser into the light router agent. The pin goes into our own drop-in, written
 * atomically; the previous drop-in is kept by the caller for rollback.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../shared/fs/atomic.js';

/** Our drop-in, holding only `master_finger`. */
export const PIN_DROP_IN = 'ssr-recovery-master-finger.conf';

export interface MinionConfigPaths {
  configDir: string;
  /** `<configDir>/minion`. */
  mainFile: string;
  /** `<configDir>/minion.d`. */
  dropInDir: string;
  /** `<configDir>/minion.d/ssr-recovery-master-finger.conf`. */
  pinFile: string;
}

export function minionConfigPaths(configDir: string): MinionConfigPaths {
  const dropInDir = join(configDir, 'minion.d');
  return { configDir, mainFile: join(configDir, 'minion'), dropInDir, pinFile: join(dropInDir, PIN_DROP_IN) };
}

/** Top-level scalar `key: value` pairs of a YAML document (quotes removed, comments ignored). */
export function topLevelScalars(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    let v = m[2]!.replace(/\s+#.*$/, '');
    if ((v.startsWith("'") && v.endsWith("'")) || (v.startsWith('"') && v.endsWith('"'))) v = v.slice(1, -1);
    out.set(m[1]!, v);
  }
  return out;
}

async function readOrEmpty(p: string): Promise<string> {
  try {
    return await fsp.readFile(p, 'utf8');
  } catch {
    return '';
  }
}

/** The config files in the order Salt applies them; `replacePin` substitutes our drop-in's text. */
export async function configLayers(
  paths: MinionConfigPaths,
  replacePin?: string | null,
): Promise<{ file: string; text: string }[]> {
  const layers = [{ file: paths.mainFile, text: await readOrEmpty(paths.mainFile) }];
  let names: string[] = [];
  try {
    names = (await fsp.readdir(paths.dropInDir)).filter((n) => n.endsWith('.conf'));
  } catch {
    /* no minion.d */
  }
  if (replacePin !== undefined && !names.includes(PIN_DROP_IN)) names.push(PIN_DROP_IN);
  for (const n of names.sort()) {
    const file = join(paths.dropInDir, n);
    if (n === PIN_DROP_IN && replacePin !== undefined) {
      if (replacePin !== null) layers.push({ file, text: replacePin });
    } else layers.push({ file, text: await readOrEmpty(file) });
  }
  return layers;
}

/** The effective value of a top-level key and the file that sets it. */
export async function effectiveValue(
  paths: MinionConfigPaths,
  key: string,
  replacePin?: string | null,
): Promise<{ value: string; file: string } | undefined> {
  let found: { value: string; file: string } | undefined;
  for (const layer of await configLayers(paths, replacePin)) {
    const v = topLevelScalars(layer.text).get(key);
    if (v !== undefined) found = { value: v, file: layer.file };
  }
  return found && found.value !== '' ? found : undefined;
}

/** Several keys' effective values from one read of the layers (the watcher asks every poll). */
export async function effectiveValues(paths: MinionConfigPaths, keys: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const layer of await configLayers(paths)) {
    const scalars = topLevelScalars(layer.text);
    for (const k of keys) {
      const v = scalars.get(k);
      if (v !== undefined) out.set(k, v);
    }
  }
  for (const [k, v] of out) if (v === '') out.delete(k);
  return out;
}

/** The drop-in text pinning `fingerprint`. */
export function pinText(fingerprint: string): string {
  return (
    `# Written by ssr-recovery router-agent: the minion accepts only the master key with this fingerprint.\n` +
    `# Salt computes it as pem_finger(minion_master.pub) with hash_type sha256 (reference/salt.md 4.4, 4.5).\n` +
    `master_finger: '${fingerprint}'\n`
  );
}

/** Write the pin drop-in atomically (0644: the minion config is not secret). */
export async function writePin(paths: MinionConfigPaths, fingerprint: string): Promise<void> {
  await writeFileAtomic(paths.pinFile, pinText(fingerprint), { mode: 0o644, dirMode: 0o755 });
}
