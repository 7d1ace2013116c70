/**
 * Fast path for loading the router-agent configuration. The router agent must start in well under
 * 150 ms, and zod plus the YAML parser cost more than that on a small router CPU. So: when the file
 * is JSON (valid YAML; the salt state renders it so), no `SSR_RECOVERY_*` variable is set, and every
 * key is one the router key definition (shared/config/router-keys.ts, which routerSchema is built
 * from) knows and finds valid, the config is built here without zod. Anything else (YAML syntax,
 * environment overrides, unknown keys, any invalid value) goes to the canonical loader
 * (`shared/config/load.ts`; in the release bundle the file router-agent-config.cjs beside it), which
 * produces the same config or the same CONFIG_* errors.
 */
import { readFileSync } from 'node:fs';
import type { Loaded, LoadOptions } from '../shared/config/load.js';
import { underRoot } from '../shared/config/root.js';
import { KIND_CHECKS, ROUTER_SECTIONS, SERVICE_VERBS, type KeySpec } from '../shared/config/router-keys.js';
import type { RouterConfig } from '../shared/config/schema.js';

const SECTIONS: Record<string, Record<string, KeySpec>> = ROUTER_SECTIONS;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCommandLine = KIND_CHECKS.string;

/** One section built from its definition, or undefined when the canonical loader must decide. */
function fastSection(given: unknown, fields: Record<string, KeySpec>): Record<string, unknown> | undefined {
  if (!isObj(given)) return undefined;
  for (const k of Object.keys(given)) if (!(k in fields)) return undefined;
  const sec: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(fields)) {
    const v = given[k];
    if (v === undefined) {
      if (spec.default !== undefined) sec[k] = Array.isArray(spec.default) ? [...spec.default] : spec.default;
    } else if (KIND_CHECKS[spec.kind](v)) sec[k] = v;
    else return undefined;
  }
  return sec;
}

function fastServices(given: unknown): Record<string, Record<string, string>> | undefined {
  if (!isObj(given)) return undefined;
  const out: Record<string, Record<string, string>> = {};
  for (const [name, verbs] of Object.entries(given)) {
    if (!isObj(verbs)) return undefined;
    for (const [verb, line] of Object.entries(verbs)) {
      if (!(SERVICE_VERBS as readonly string[]).includes(verb) || !isCommandLine(line)) return undefined;
    }
    out[name] = verbs as Record<string, string>;
  }
  return out;
}

/** The config built without zod, or undefined when the canonical loader must decide. */
export function fastRouterConfig(raw: unknown): RouterConfig | undefined {
  if (!isObj(raw)) return raw === null || raw === undefined ? fastRouterConfig({}) : undefined;
  for (const key of Object.keys(raw)) if (!(key in SECTIONS) && key !== 'services') return undefined;
  const out: Record<string, unknown> = {};
  for (const [section, fields] of Object.entries(SECTIONS)) {
    const sec = fastSection(raw[section] ?? {}, fields);
    if (!sec) return undefined;
    out[section] = sec;
  }
  const services = fastServices(raw.services ?? {});
  if (!services) return undefined;
  out.services = services;
  return out as RouterConfig;
}

/** Load the router config: fast path when possible, else `loadConfig` (lazily imported). */
export async function loadRouterConfig(options: Omit<LoadOptions, 'agent'>): Promise<Loaded<RouterConfig>> {
  const root = options.root ?? '/';
  const env = options.env ?? process.env;
  const canonical = async (): Promise<Loaded<RouterConfig>> =>
    (await import('../shared/config/load.js')).loadConfig({ ...options, agent: 'router-agent' });
  if (Object.keys(env).some((k) => k.startsWith('SSR_RECOVERY_'))) return canonical();
  if (Object.values(options.overrides ?? {}).some((v) => v !== undefined)) return canonical();
  const file = options.configFile ?? underRoot(root, '/etc/ssr-recovery/router-agent.yaml');
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    // No file and none named: defaults. Anything else: the canonical loader reports it.
    if (options.configFile || (err as NodeJS.ErrnoException).code !== 'ENOENT') return canonical();
  }
  let raw: unknown = {};
  if (text !== undefined) {
    try {
      raw = JSON.parse(text);
    } catch {
      return canonical(); // YAML proper
    }
  }
  const config = fastRouterConfig(raw);
  if (!config) return canonical();
  const read = text === undefined ? undefined : file;
  return { config, root, file: read, warnings: [], path: (p: string) => underRoot(root, p) };
}

export interface RouterConfigInput {
  /** Conductor-agent endpoints (`host:port`), both HA nodes. */
  conductorAddresses: string[];
  /** The conductor-agent signing key(s), SPKI PEM (concatenate two for an HA pair with distinct keys). */
  agentPublicKey: string;
  /** Its TLS certificate fingerprint(s), comma separated. */
  certFingerprint: string;
  minion?: Partial<RouterConfig['minion']>;
  agent?: Partial<RouterConfig['agent']>;
  services?: RouterConfig['services'];
  log?: RouterConfig['log'];
  observe?: RouterConfig['observe'];
}

/** The router-agent config file as JSON (valid YAML, and what the fast path reads). */
export function renderRouterConfig(i: RouterConfigInput): string {
  const doc = {
    ...(i.minion ? { minion: i.minion } : {}),
    conductor: {
      addresses: i.conductorAddresses,
      agentPublicKey: i.agentPublicKey,
      certFingerprint: i.certFingerprint,
    },
    ...(i.agent ? { agent: i.agent } : {}),
    ...(i.services ? { services: i.services } : {}),
    ...(i.log ? { log: i.log } : {}),
    ...(i.observe ? { observe: i.observe } : {}),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
