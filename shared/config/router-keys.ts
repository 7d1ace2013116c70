/**
 * The one definition of the router agent's configuration keys: kind, default and meaning of each.
 * `routerSchema` (schema.ts, zod) is built from it, and so is the router agent's zod-free fast
 * path (router-agent/config.ts), so the two cannot disagree about a key or a default. No imports:
 * the router agent reads this on its fast start-up path.
 */

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;

/** What a value must be. */
export type KeyKind = 'string' | 'absPath' | 'positiveInt' | 'nonNegativeInt' | 'stringList' | 'logLevel';

export interface KeySpec {
  readonly kind: KeyKind;
  /** Default; none = optional without default. */
  readonly default?: string | number | readonly string[];
  /** What it means (docs/configuration.md is generated from it). */
  readonly doc?: string;
}

/** Every section and key of router-agent.yaml except `services` (a map of command lines). */
export const ROUTER_SECTIONS = {
  minion: {
    id: { kind: 'string', doc: 'Minion id; default: `<root>/etc/salt/minion_id`, else `id:` in the minion config.' },
    configDir: { kind: 'absPath', default: '/etc/salt' },
    pkiDir: { kind: 'absPath', default: '/etc/salt/pki/minion' },
    logFile: { kind: 'absPath', default: '/var/log/salt/minion' },
    service: {
      kind: 'string',
      default: 'salt-minion',
      doc: "The minion's systemd unit (verbs overridable with `services.minion.*`).",
    },
  },
  conductor: {
    addresses: {
      kind: 'stringList',
      default: [],
      doc: 'Conductor agent endpoints (`host` or `host:port`); default: the conductor hosts in global.init.',
    },
    agentPublicKey: {
      kind: 'string',
      doc: "The conductor-agent's Ed25519 public key (PEM or path to a PEM file) pinned at install.",
    },
    certFingerprint: { kind: 'string', doc: "SHA-256 fingerprint of the conductor-agent's TLS certificate (pinned)." },
    port: { kind: 'positiveInt', default: 4507, doc: "Port of the conductor-agent's wss listener." },
  },
  agent: {
    stateDir: {
      kind: 'absPath',
      default: '/var/lib/ssr-recovery-router',
      doc: "The router agent's own state (its key pair, rollback copies).",
    },
    saltCall: {
      kind: 'string',
      default: 'salt-call',
      doc: 'Command line of salt-call: announces the agent key (a Salt event) and confirms a re-authentication (`test.ping`).',
    },
    reauthTimeoutMs: {
      kind: 'positiveInt',
      default: 120_000,
      doc: 'How long a re-authentication waits for the minion to cache the pinned key (ms).',
    },
    settleMs: {
      kind: 'nonNegativeInt',
      default: 3_000,
      doc: 'How long the minion must stay up with the pinned key before success is reported (ms).',
    },
    pollMs: {
      kind: 'positiveInt',
      default: 2_000,
      doc: 'Trust watcher poll interval: log tail, cached key, service state (ms).',
    },
    heartbeatMs: {
      kind: 'positiveInt',
      default: 15_000,
      doc: 'Heartbeat interval on the conductor connection; silence for 2.5 intervals = dead peer (ms).',
    },
    minionStopTimeoutMs: {
      kind: 'positiveInt',
      default: 60_000,
      doc: 'How long re-authentication waits for the minion to be really down after `stop` (a real minion needs ~6 s) (ms).',
    },
  },
  observe: {
    listen: {
      kind: 'string',
      default: '127.0.0.1:9129',
      doc: "host:port of the router agent's metrics (`/metrics`) and health (`/healthz`) endpoint, or `off`.",
    },
  },
  log: {
    level: { kind: 'logLevel', default: 'info' },
  },
} as const satisfies Record<string, Record<string, KeySpec>>;

/** The service verbs a `services.<name>` entry may override. */
export const SERVICE_VERBS = ['start', 'stop', 'restart', 'isActive'] as const;

const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** The fast path's checks: the same acceptance as the zod types schema.ts builds for each kind. */
export const KIND_CHECKS: Record<KeyKind, (v: unknown) => boolean> = {
  string: isString,
  absPath: (v) => isString(v) && v.startsWith('/'),
  positiveInt: (v) => Number.isInteger(v) && (v as number) > 0,
  nonNegativeInt: (v) => Number.isInteger(v) && (v as number) >= 0,
  stringList: (v) => Array.isArray(v) && v.every(isString),
  logLevel: (v) => (LOG_LEVELS as readonly unknown[]).includes(v),
};

interface KindTypes {
  string: string;
  absPath: string;
  positiveInt: number;
  nonNegativeInt: number;
  stringList: string[];
  logLevel: (typeof LOG_LEVELS)[number];
}
type ValueOf<S> = S extends { kind: infer K extends KeyKind } ? KindTypes[K] : never;
/** A section's type: keys with a default are always present after loading, the others optional. */
export type SectionOf<S> = {
  -readonly [K in keyof S as S[K] extends { default: unknown } ? K : never]: ValueOf<S[K]>;
} & { -readonly [K in keyof S as S[K] extends { default: unknown } ? never : K]?: ValueOf<S[K]> };
