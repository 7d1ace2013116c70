/**
 * Where `keys accept --verified` learns the fingerprint each router's minion key should have: a
 * file or `--expect id=finger` flags, else (the default) the router-agent registry, which keeps
 * the minion key fingerprint from each router's last signed trust report.
 */
import { readFile } from 'node:fs/promises';
import { KeysError } from '../../shared/errors.js';

export interface ExpectedFingerprints {
  /** The expected Salt fingerprint of `id`'s minion key, lowercase with colons; undefined = unknown. */
  lookup(id: string): Promise<string | undefined>;
  /** Where the expectations came from (for the report). */
  readonly source: string;
}

const FINGER = /^[0-9a-f]{2}(:[0-9a-f]{2}){15,63}$/;

function normalise(id: string, finger: unknown, where: string): [string, string] {
  const f = typeof finger === 'string' ? finger.trim().toLowerCase() : '';
  if (!id || !FINGER.test(f)) {
    throw new KeysError(
      'KEYS_EXPECTED_INVALID',
      `${where}: expected "<minion id> <fingerprint>" with a colon-separated hex fingerprint`,
      {
        details: { id, where },
        hint: 'Fingerprints are as `salt-key -f <id>` / `salt-call key.finger` print them, e.g. 49:68:bd:…',
      },
    );
  }
  return [id, f];
}

/**
 * Parse an expectations file (pure): a JSON object `{"<id>": "<finger>"}`, or lines
 * `<id> <finger>` / `<id>: <finger>` / `<id>=<finger>` with `#` comments.
 */
export function parseExpectedFingerprints(text: string, where = 'expected fingerprints'): Map<string, string> {
  const out = new Map<string, string>();
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let doc: unknown;
    try {
      doc = JSON.parse(trimmed);
    } catch (err) {
      throw new KeysError('KEYS_EXPECTED_INVALID', `${where} is not valid JSON`, { cause: err });
    }
    for (const [id, f] of Object.entries(doc as Record<string, unknown>)) {
      const [k, v] = normalise(id, f, `${where} key ${id}`);
      out.set(k, v);
    }
    return out;
  }
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const m = /^(\S+?)(?::\s+|\s*=\s*|\s+)(\S+)$/.exec(line);
    const [k, v] = normalise(m?.[1] ?? '', m?.[2], `${where} line ${i + 1}`);
    if (out.has(k) && out.get(k) !== v)
      throw new KeysError(
        'KEYS_EXPECTED_INVALID',
        `${where} line ${i + 1}: ${k} is listed twice with different fingerprints`,
      );
    out.set(k, v);
  });
  return out;
}

/** Expectations held in memory (flags, tests). */
export function staticExpected(map: ReadonlyMap<string, string>, source = 'flags'): ExpectedFingerprints {
  return { source, lookup: async (id) => map.get(id) };
}

/** `--expect id=finger` values → expectations. */
export function expectedFromFlags(values: readonly string[]): Map<string, string> {
  return parseExpectedFingerprints(values.join('\n'), '--expect');
}

/** Expectations from a file. */
export async function expectedFromFile(path: string): Promise<ExpectedFingerprints> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new KeysError('KEYS_EXPECTED_INVALID', `cannot read ${path}: ${(err as Error).message}`, {
      cause: err,
      details: { path },
    });
  }
  return staticExpected(parseExpectedFingerprints(text, path), path);
}

/** Expected fingerprints from the agent registry (signed reports), by minion id. */
export async function registryExpected(stateDir: string, lockFile: string): Promise<Map<string, string>> {
  const { AgentRegistry } = await import('../registry/store.js');
  const reg = await AgentRegistry.open(stateDir, { lockFile });
  const out = new Map<string, string>();
  for (const e of reg.list()) {
    const f = e.reported?.minionKeyFingerprint;
    if (f && FINGER.test(f)) out.set(e.minionId, f);
  }
  return out;
}
