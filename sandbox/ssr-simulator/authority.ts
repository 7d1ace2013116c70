/**
 * The simulated conductor's configuration datastores (running + candidate) and the PCLI grammar the
 * simulator accepts, kept apart from the HTTP plumbing so both read on their own.
 */
import { gunzipSync, gzipSync } from 'node:zlib';

/** The authority as the REST config tree names it (hyphenated leaves, reference/ssr.md §4.2, §5.1). */
export interface SimAuthority {
  name: string;
  'conductor-address': string[];
  router: Array<{ name: string; node: Array<{ name: string; 'asset-id': string }> }>;
}

export const emptyAuthority = (name = 'Authority'): SimAuthority => ({ name, 'conductor-address': [], router: [] });

export const cloneAuthority = (a: SimAuthority): SimAuthority => JSON.parse(JSON.stringify(a)) as SimAuthority;

/** An export file: gzip'd JSON of the running config, as `export config running` stores it (format UNCONFIRMED). */
export function encodeExport(a: SimAuthority): Buffer {
  return gzipSync(JSON.stringify({ datastore: { config: { authority: a } } }));
}

export function decodeExport(bytes: Buffer): SimAuthority | undefined {
  try {
    const doc = JSON.parse(gunzipSync(bytes).toString('utf8')) as { datastore?: { config?: { authority?: unknown } } };
    const a = doc.datastore?.config?.authority as SimAuthority | undefined;
    if (!a || typeof a.name !== 'string' || !Array.isArray(a.router)) return undefined;
    return { ...a, 'conductor-address': Array.isArray(a['conductor-address']) ? a['conductor-address'] : [] };
  } catch {
    return undefined;
  }
}

/** Validation the simulator applies before a commit (the real one does far more). */
export function validateAuthority(a: SimAuthority): string[] {
  const out: string[] = [];
  if (a['conductor-address'].length > 2) out.push('authority conductor-address takes at most two addresses');
  const names = new Set<string>();
  for (const r of a.router) {
    if (names.has(r.name)) out.push(`router ${r.name} is configured twice`);
    names.add(r.name);
  }
  return out;
}

export interface ParsedMigrate {
  force: boolean;
  skipValidation: boolean;
  addresses: string[];
  router: string;
}

/** Parse `migrate [skip-validation] [force] conductor <a1> [<a2>] router <r>` (reference/ssr.md §2.1). */
export function parseMigrate(words: string[]): ParsedMigrate | string {
  let i = 0;
  if (words[i++] !== 'migrate') return `% Error: unknown command ${words[0] ?? ''}`;
  let force = false;
  let skipValidation = false;
  for (; words[i] === 'force' || words[i] === 'skip-validation'; i++) {
    if (words[i] === 'force') force = true;
    else skipValidation = true;
  }
  if (words[i++] !== 'conductor') return '% Error: expected conductor <address> [<address>]';
  const addresses: string[] = [];
  while (i < words.length && words[i] !== 'router') addresses.push(words[i++]!);
  if (addresses.length < 1 || addresses.length > 2) return '% Error: conductor takes one or two addresses';
  if (words[i++] !== 'router' || i !== words.length - 1) return '% Error: expected router <router>';
  return { force, skipValidation, addresses, router: words[i]! };
}
