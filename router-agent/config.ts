/**
 * Fast path for loading the router-agent configuration. The router agent must start in well under
 * 150 ms, and zod plus the YAML parser cost more than that on a small router CPU. So: when the file
 * is JSON (valid YAML; the salt state renders it so), no `SSR_RECOVERY_*` variable is set, and every
 * key is one this checker knows and finds valid, the config is built here without zod. Anything
 * else (YAML syntax, environment overrides, unknown keys, any invalid value) goes to the canonical
 * loader (`shared/config/load.ts`), which produces the same config or the same CONFIG_* errors.
 * A unit test keeps both in step with `routerSchema`.
 */
import { readFileSync } from 'node:fs';
import type { Loaded, LoadOptions } from '../shared/config/load.js';
import type { RouterConfig } from '../shared/config/schema.js';

/** Same as schema.ts `underRoot` (not imported: schema.ts loads zod). */
function underRoot(root: string, systemPath: string): string {
  if (root === '/' || root === '') return systemPath;
  return root.replace(/\/+$/, '') + (systemPath.startsWith('/') ? systemPath : '/' + systemPath);
}

type Check = (v: unknown) => boolean;
const str: Check = (v) => typeof v === 'string' && v.length > 0;
const abs: Check = (v) => str(v) && (v as string).startsWith('/');
const posInt: Check = (v) => Number.isInteger(v) && (v as number) > 0;
const nonNegInt: Check = (v) => Number.isInteger(v) && (v as number) >= 0;
const strList: Check = (v) => Array.isArray(v) && v.every(str);
const level: Check = (v) => ['debug', 'info', 'warn', 'error', 'silent'].includes(v as string);

/** Every key of routerSchema with its check and default (undefined = optional without default). */
export const ROUTER_KEYS: Record<string, Record<string, [Check, unknown]>> = {
  minion: {
    id: [str, undefined], configDir: [abs, '/etc/salt'], pkiDir: [abs, '/etc/salt/pki/minion'],
    logFile: [abs, '/var/log/salt/minion'], service: [str, 'salt-minion'],
  },
  conductor: {
    addresses: [strList, []], agentPublicKey: [str, undefined], certFingerprint: [str, undefined], port: [posInt, 4507],
  },
  agent: {
    stateDir: [abs, '/var/lib/ssr-recovery-router'], saltCall: [str, 'salt-call'], reauthTimeoutMs: [posInt, 120_000],
    settleMs: [nonNegInt, 3_000], pollMs: [posInt, 2_000], heartbeatMs: [posInt, 15_000],
    minionStopTimeoutMs: [posInt, 60_000],
  },
  log: { level: [level, 'info'] },
};
const SERVICE_VERBS = ['start', 'stop', 'restart', 'isActive'];

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The config built without zod, or undefined when the canonical loader must decide. */
export function fastRouterConfig(raw: unknown): RouterConfig | undefined {
  if (!isObj(raw)) return raw === null || raw === undefined ? fastRouterConfig({}) : undefined;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) if (!(key in ROUTER_KEYS) && key !== 'services') return undefined;
  for (const [section, fields] of Object.entries(ROUTER_KEYS)) {
    const given = raw[section] ?? {};
    if (!isObj(given)) return undefined;
    for (const k of Object.keys(given)) if (!(k in fields)) return undefined;
    const sec: Record<string, unknown> = {};
    for (const [k, [check, dflt]] of Object.entries(fields)) {
      const v = given[k];
      if (v === undefined) {
        if (dflt !== undefined) sec[k] = Array.isArray(dflt) ? [...dflt] : dflt;
      } else if (check(v)) sec[k] = v;
      else return undefined;
    }
    out[section] = sec;
  }
  const services = raw.services ?? {};
  if (!isObj(services)) return undefined;
  const svc: Record<string, Record<string, string>> = {};
  for (const [name, verbs] of Object.entries(services)) {
    if (!isObj(verbs)) return undefined;
    for (const [verb, line] of Object.entries(verbs)) if (!SERVICE_VERBS.includes(verb) || !str(line)) return undefined;
    svc[name] = verbs as Record<string, string>;
  }
  out.services = svc;
  return out as RouterConfig;
}

/** Load the router config: fast path when possible, else `loadConfig` (lazily imported). */
export async function loadRouterConfig(options: Omit<LoadOptions, 'agent'>): Promise<Loaded<RouterConfig>> {
  const root = options.root ?? '/';
  const env = options.env ?? process.env;
  const canonical = async (): Promise<Loaded<RouterConfig>> => (await import('../shared/config/load.js')).loadConfig({ ...options, agent: 'router-agent' });
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
  return { config, root, file: text === undefined ? undefined : file, warnings: [], path: (p: string) => underRoot(root, p) };
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
}

/** The router-agent config file as JSON (valid YAML, and what the fast path reads). */
export function renderRouterConfig(i: RouterConfigInput): string {
  const doc = {
    ...(i.minion ? { minion: i.minion } : {}),
    conductor: { addresses: i.conductorAddresses, agentPublicKey: i.agentPublicKey, certFingerprint: i.certFingerprint },
    ...(i.agent ? { agent: i.agent } : {}),
    ...(i.services ? { services: i.services } : {}),
    ...(i.log ? { log: i.log } : {}),
  };
  return JSON.stringify(doc, null, 2) + '\n';
}
