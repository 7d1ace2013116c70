/**
 * The only module that reads configuration files and the environment. Precedence, lowest first:
 * defaults < YAML file < environment (`SSR_RECOVERY_<KEY_IN_UPPER_SNAKE>`) < flags.
 * The file is `<root>/etc/ssr-recovery/<agent>.yaml` unless `--config` names one.
 */
import { readFileSync, statSync } from 'node:fs';
import { parse as parseYamlText } from 'yaml';
import { ConfigError } from '../errors.js';
import { underRoot, type ConductorConfig, type RouterConfig } from './schema.js';
import { validateConductorConfig, validateRouterConfig, type ValidationResult } from './validate.js';

export type AgentKind = 'conductor-agent' | 'router-agent';

/**
 * A static import: both bundles (the router agent's config loader is CommonJS, where `import.meta`
 * is empty) must carry yaml, and a run-time require would look for a node_modules the release
 * artifacts do not have. This module itself is loaded only by commands that read configuration.
 */
function parseYaml(text: string): unknown {
  return parseYamlText(text);
}
type LeafType = 'string' | 'number' | 'boolean' | 'list';

/** Keys that may come from the environment, with their types. Documented in docs/configuration.md. */
export const ENV_KEYS: Record<AgentKind, Record<string, LeafType>> = {
  'conductor-agent': {
    'saltApi.url': 'string',
    'saltApi.eauth': 'string',
    'saltApi.username': 'string',
    'saltApi.passwordFile': 'string',
    'saltApi.caFile': 'string',
    'saltApi.timeoutMs': 'number',
    'ssr.url': 'string',
    'ssr.username': 'string',
    'ssr.passwordFile': 'string',
    'salt.masterConfig': 'string',
    'salt.pkiDir': 'string',
    'backup.dir': 'string',
    'backup.schedule': 'string',
    'backup.keep.last': 'number',
    'backup.keep.daily': 'number',
    'backup.keep.weekly': 'number',
    'backup.extraPaths': 'list',
    'backup.trustedSigners': 'list',
    'backup.encrypt.recipients': 'list',
    'agents.listen': 'string',
    'agents.stateDir': 'string',
    'agents.commandTimeoutMs': 'number',
    'agents.controlSocket': 'string',
    'log.level': 'string',
  },
  'router-agent': {
    'minion.id': 'string',
    'minion.configDir': 'string',
    'minion.pkiDir': 'string',
    'minion.logFile': 'string',
    'conductor.addresses': 'list',
    'conductor.agentPublicKey': 'string',
    'conductor.certFingerprint': 'string',
    'conductor.port': 'number',
    'agent.stateDir': 'string',
    'minion.service': 'string',
    'agent.saltCall': 'string',
    'agent.reauthTimeoutMs': 'number',
    'log.level': 'string',
  },
};

/** `…File` keys that name secrets: warned about when group or others can read them (as ssh does for keys). */
export const SECRET_FILE_KEYS: Record<AgentKind, readonly string[]> = {
  'conductor-agent': ['saltApi.passwordFile', 'ssr.passwordFile', 'backup.offbox.privateKeyFile'],
  'router-agent': [],
};

/** `saltApi.passwordFile` → `SSR_RECOVERY_SALT_API_PASSWORD_FILE`. */
export function envNameFor(key: string): string {
  return (
    'SSR_RECOVERY_' +
    key
      .split('.')
      .map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
      .join('_')
  );
}

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let node = target;
  for (const p of parts.slice(0, -1)) {
    const next = node[p];
    if (next === undefined || next === null || typeof next !== 'object' || Array.isArray(next)) node[p] = {};
    node = node[p] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

function coerce(key: string, type: LeafType, raw: string): unknown {
  switch (type) {
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n))
        throw new ConfigError('CONFIG_INVALID', `${envNameFor(key)} must be a number, got ${JSON.stringify(raw)}`);
      return n;
    }
    case 'boolean':
      if (!/^(true|false)$/i.test(raw))
        throw new ConfigError('CONFIG_INVALID', `${envNameFor(key)} must be true or false`);
      return /^true$/i.test(raw);
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    default:
      return raw;
  }
}

export interface LoadOptions {
  agent: AgentKind;
  /** Root prefix for every system path (default `/`). */
  root?: string;
  /** Explicit config file (not under root); when given it must exist. */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Flag overrides as dotted keys (`{'saltApi.url': '…'}`); undefined values are ignored. */
  overrides?: Record<string, unknown>;
}

export interface Loaded<T> {
  config: T;
  root: string;
  /** The file that was read, if any. */
  file: string | undefined;
  warnings: string[];
  /** Resolve a system path under the root prefix. */
  path(systemPath: string): string;
}

/** Read, merge and validate; throws ConfigError (exit code 3) with every problem listed. */
export function loadConfig(options: LoadOptions & { agent: 'conductor-agent' }): Loaded<ConductorConfig>;
export function loadConfig(options: LoadOptions & { agent: 'router-agent' }): Loaded<RouterConfig>;
export function loadConfig(options: LoadOptions): Loaded<ConductorConfig> | Loaded<RouterConfig> {
  const root = options.root ?? '/';
  const env = options.env ?? process.env;
  const explicit = options.configFile;
  const file = explicit ?? underRoot(root, `/etc/ssr-recovery/${options.agent}.yaml`);
  let raw: Record<string, unknown> = {};
  let read = false;
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (explicit || code !== 'ENOENT') {
      throw new ConfigError('CONFIG_UNREADABLE', `cannot read config file ${file}: ${(err as Error).message}`, {
        cause: err,
        details: { file },
        hint: 'Check the path given to --config and its permissions.',
      });
    }
  }
  if (text !== undefined) {
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (err) {
      throw new ConfigError('CONFIG_UNREADABLE', `config file ${file} is not valid YAML: ${(err as Error).message}`, {
        cause: err,
        details: { file },
      });
    }
    if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc))) {
      throw new ConfigError('CONFIG_INVALID', `config file ${file} must be a YAML mapping`, { details: { file } });
    }
    raw = (doc as Record<string, unknown> | null) ?? {};
    read = true;
  }
  /** Where each key set after the file came from: its variable, or `a flag`. */
  const sources = new Map<string, string>();
  for (const [key, type] of Object.entries(ENV_KEYS[options.agent])) {
    const v = env[envNameFor(key)];
    if (v === undefined) continue;
    setPath(raw, key, coerce(key, type, v));
    sources.set(key, envNameFor(key));
  }
  for (const [key, v] of Object.entries(options.overrides ?? {})) {
    if (v === undefined) continue;
    setPath(raw, key, v);
    sources.set(key, 'a flag');
  }
  const result: ValidationResult<ConductorConfig | RouterConfig> =
    options.agent === 'conductor-agent' ? validateConductorConfig(raw) : validateRouterConfig(raw);
  if (!result.config) throw invalidConfig(result.errors, sources, read ? file : undefined);
  const warnings = [...result.warnings, ...looseSecretFiles(result.config, SECRET_FILE_KEYS[options.agent], root)];
  return {
    config: result.config,
    root,
    file: read ? file : undefined,
    warnings,
    path: (p: string) => underRoot(root, p),
  } as Loaded<ConductorConfig> | Loaded<RouterConfig>;
}

/** The key an error message is about: the longest known key it starts with. */
function keyOf(error: string, keys: Iterable<string>): string | undefined {
  let best: string | undefined;
  for (const k of keys) {
    const next = error.charAt(k.length);
    const whole = next === ':' || next === ' ' || next === '.';
    if (error.startsWith(k) && whole && k.length > (best?.length ?? 0)) best = k;
  }
  return best;
}

/**
 * CONFIG_INVALID naming where each bad value came from: an `SSR_RECOVERY_*` variable or a flag is
 * named as such, never blamed on the YAML file (which may not even hold the key).
 */
function invalidConfig(errors: string[], sources: Map<string, string>, file: string | undefined): ConfigError {
  const located = errors.map((e) => {
    const key = keyOf(e, sources.keys());
    return key ? { error: `${e} (from ${sources.get(key)})`, fromFile: false } : { error: e, fromFile: true };
  });
  const where = [
    ...(file && located.some((l) => l.fromFile) ? [`in ${file}`] : []),
    ...(located.some((l) => !l.fromFile) ? ['from the environment or flags'] : []),
  ].join(' and ');
  const listed = located.map((l) => l.error);
  const message = `invalid configuration${where ? ` ${where}` : ''}:\n  - ${listed.join('\n  - ')}`;
  return new ConfigError('CONFIG_INVALID', message, {
    details: { file, errors: listed, ...(sources.size ? { variables: [...new Set(sources.values())] } : {}) },
    hint: 'Fix the listed keys (docs/configuration.md lists every key and its environment variable).',
  });
}

function valueAt(config: unknown, dotted: string): unknown {
  let node = config;
  for (const part of dotted.split('.')) {
    node = node && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined;
  }
  return node;
}

/** Warnings for secret files that group or others can read or write (still used: a warning, not a refusal). */
function looseSecretFiles(config: unknown, keys: readonly string[], root: string): string[] {
  const out: string[] = [];
  for (const key of keys) {
    const p = valueAt(config, key);
    if (typeof p !== 'string') continue;
    let mode: number;
    try {
      mode = statSync(underRoot(root, p)).mode;
    } catch {
      continue; // a missing file is reported by the command that reads it
    }
    if (mode & 0o077) {
      const octal = (mode & 0o777).toString(8).padStart(4, '0');
      out.push(
        `${key} ${p} is accessible by ${mode & 0o007 ? 'others' : 'its group'} (mode ${octal}): ` +
          `it holds a secret; run chmod 600 ${p}`,
      );
    }
  }
  return out;
}
