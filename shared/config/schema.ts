/**
 * The typed shape of both agents' configuration, with defaults and one comment per field. System
 * paths are written as they are on a real host (absolute); every consumer resolves them under the
 * `--root` prefix with {@link underRoot}, so tests and rehearsals run on a temp tree.
 *
 * Secrets are never values here: they come from files named by `…File` keys.
 */
import { z } from './zod.js';
import { LOG_LEVELS, ROUTER_SECTIONS, type KeyKind, type KeySpec, type SectionOf } from './router-keys.js';

const commandLine = z.string().min(1);
/** Command lines overriding `systemctl <verb> <unit>` for one service. */
const serviceCommands = z
  .object({
    start: commandLine.optional(),
    stop: commandLine.optional(),
    restart: commandLine.optional(),
    isActive: commandLine.optional(),
    /** systemd unit used for verbs with no command line (default: the service name, e.g. `salt-master`; the SSR unit name is unconfirmed). */
    unit: z.string().min(1).optional(),
  })
  .strict();

const absPath = z
  .string()
  .min(1)
  .refine((p) => p.startsWith('/'), { message: 'must be an absolute path' });

/** `conductor-agent migrate` (docs/migrate.md). */
const migrateSchema = z
  .object({
    /** Routers migrated per second (the `--rate` default); protects both conductors and the Salt masters. */
    rate: z.number().positive().default(5),
    /** Routers in flight at once (migrate sent, not yet Running on the new conductor). */
    concurrency: z.number().int().positive().default(50),
    /** How long a router may take to show Connected on the new conductor after its migrate (s). */
    connectedTimeoutSeconds: z.number().int().positive().default(600),
    /** How long a Connected router may take to reach Running (s); the published page says "a few minutes". */
    runningTimeoutSeconds: z.number().int().positive().default(900),
    /** Asset-state poll interval on each conductor (ms); one GraphQL query serves every waiting router. */
    pollMs: z.number().int().positive().default(2000),
    /** How long, at verify, a Running router's minions may take to answer `test.ping` through the new salt-api (s). */
    pingTimeoutSeconds: z.number().int().positive().default(120),
    /** Journal folder of a running migration (default `<agents.stateDir>/migrate`). */
    journalDir: absPath.optional(),
    /** A backup of the old conductor younger than this counts as fresh; otherwise one is taken first. */
    backupMaxAgeHours: z.number().positive().default(24),
    /** Salt trust after the move: `auto` (same key if the new master carries the old key pair, else re-pin), `same-key`, `repin`. */
    trust: z.enum(['auto', 'same-key', 'repin']).default('auto'),
    /** The new conductor's APIs; `{address}` is replaced by the first `--to` address. */
    to: z
      .object({
        /** SSR REST/GraphQL base URL of the new conductor. */
        ssrUrl: z.string().min(1).default('https://{address}'),
        /** Credentials on the new conductor (default: `ssr.username` / `ssr.passwordFile`). */
        username: z.string().min(1).optional(),
        passwordFile: absPath.optional(),
        caFile: absPath.optional(),
        /** salt-api of the new conductor for `test.ping` (default: not checked). Credentials: `saltApi.*`. */
        saltApiUrl: z.string().min(1).optional(),
        /** PCLI of the new conductor, used only to migrate a failed router back (`--rollback-on-failure`); host keys from known_hosts, never accepted blindly. */
        pcliCommand: z.string().min(1).default('ssh -o BatchMode=yes -o StrictHostKeyChecking=yes root@{address} pcli'),
      })
      .strict()
      .default({
        ssrUrl: 'https://{address}',
        pcliCommand: 'ssh -o BatchMode=yes -o StrictHostKeyChecking=yes root@{address} pcli',
      }),
    /** How files reach the new conductor: SFTP with a pinned host key, or `local` for a tree on this machine (sandbox, rehearsal). */
    transfer: z
      .object({
        method: z.enum(['sftp', 'local']).default('sftp'),
        /** `local`: the new conductor's root folder on this machine. */
        localRoot: absPath.optional(),
        /** `sftp`: host (default: the first `--to` address), port, user, key and pinned host key. */
        host: z.string().min(1).optional(),
        port: z.number().int().positive().default(22),
        username: z.string().min(1).default('root'),
        privateKeyFile: absPath.optional(),
        /** `SHA256:<base64>` as `ssh-keygen -lf` prints it. */
        hostKeyFingerprint: z
          .string()
          .regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/)
          .optional(),
        /** `sftp`: prefix of every path on the new conductor (`/`; a staging tree in rehearsals). */
        remoteRoot: absPath.default('/'),
      })
      .strict()
      .default({ method: 'sftp', port: 22, username: 'root', remoteRoot: '/' }),
  })
  .strict()
  .default({
    rate: 5,
    concurrency: 50,
    connectedTimeoutSeconds: 600,
    runningTimeoutSeconds: 900,
    pollMs: 2000,
    pingTimeoutSeconds: 120,
    backupMaxAgeHours: 24,
    trust: 'auto',
    to: {
      ssrUrl: 'https://{address}',
      pcliCommand: 'ssh -o BatchMode=yes -o StrictHostKeyChecking=yes root@{address} pcli',
    },
    transfer: { method: 'sftp', port: 22, username: 'root', remoteRoot: '/' },
  });

export const conductorSchema = z
  .object({
    saltApi: z
      .object({
        /** salt-api base URL (rest_cherrypy). Plain http is accepted only for loopback hosts. */
        url: z.string().url().default('http://127.0.0.1:8000'),
        /** eauth backend used at /login (pam, sharedsecret, ldap, …). */
        eauth: z.string().min(1).default('pam'),
        username: z.string().min(1).optional(),
        /** File holding the salt-api password (or shared secret). */
        passwordFile: absPath.optional(),
        /** PEM CA bundle or certificate to pin for https salt-api. */
        caFile: absPath.optional(),
        /** Per-request timeout in milliseconds. */
        timeoutMs: z.number().int().positive().default(30_000),
      })
      .strict()
      .default({ url: 'http://127.0.0.1:8000', eauth: 'pam', timeoutMs: 30_000 }),
    ssr: z
      .object({
        /** SSR conductor REST/GraphQL base URL. */
        url: z.string().url().default('https://127.0.0.1'),
        username: z.string().min(1).optional(),
        passwordFile: absPath.optional(),
        /** PEM CA bundle to trust for the SSR API's https (verification is always on). */
        caFile: absPath.optional(),
        /** PCLI command line for what has no API (`migrate`); words are appended, or replace `{words}` / `{line}`. How the PCLI takes a command non-interactively is unconfirmed. */
        pcliCommand: z.string().min(1).default('pcli'),
      })
      .strict()
      .default({ url: 'https://127.0.0.1', pcliCommand: 'pcli' }),
    salt: z
      .object({
        /** The conductor's Salt master configuration file. */
        masterConfig: absPath.default('/etc/128technology/salt/master'),
        /** The Salt master pki folder (master.pem, master.pub, minions*). */
        pkiDir: absPath.default('/etc/128technology/salt/pki/master'),
      })
      .strict()
      .default({ masterConfig: '/etc/128technology/salt/master', pkiDir: '/etc/128technology/salt/pki/master' }),
    backup: z
      .object({
        /** Where backups are written (the seed's choice). */
        dir: absPath.default('/var/log/128technology'),
        /** Cron expression (5 or 6 fields) for `daemon` backups; unset = no scheduled backups. */
        schedule: z.string().min(1).optional(),
        /** Retention applied after scheduled runs and by `backup prune` without flags. */
        keep: z
          .object({
            last: z.number().int().nonnegative().default(7),
            daily: z.number().int().nonnegative().default(7),
            weekly: z.number().int().nonnegative().default(4),
          })
          .strict()
          .default({ last: 7, daily: 7, weekly: 4 }),
        /** More absolute paths (files or folders) to include. */
        extraPaths: z.array(absPath).default([]),
        /**
         * Keys whose backup signatures verify/list/restore trust, beside the current conductor-agent identity
         * (always trusted): Ed25519 public keys (PEM), fingerprints (colon hex), or absolute paths of files of them.
         */
        trustedSigners: z.array(z.string().min(1)).default([]),
        /** After each scheduled backup, restore it into a private sandbox and check it end to end (`backup verify --restore-test`). */
        restoreTest: z.boolean().default(true),
        /** age recipients (`age1…` public keys); when set, backups are written as `.tar.gz.age`. */
        encrypt: z
          .object({ recipients: z.array(z.string().min(1)).default([]) })
          .strict()
          .default({ recipients: [] }),
        /** Off-box copy over SFTP, host key pinned. */
        offbox: z
          .object({
            host: z.string().min(1),
            port: z.number().int().positive().default(22),
            username: z.string().min(1),
            privateKeyFile: absPath,
            /** Pinned host key: `SHA256:<base64>` as `ssh-keygen -lf` prints it. */
            hostKeyFingerprint: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/),
            /** Remote folder. */
            dir: z.string().min(1),
            /** Keep this many newest backups on the remote (0 = keep all). */
            keepLast: z.number().int().nonnegative().default(0),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({
        dir: '/var/log/128technology',
        keep: { last: 7, daily: 7, weekly: 4 },
        extraPaths: [],
        trustedSigners: [],
        restoreTest: true,
        encrypt: { recipients: [] },
      }),
    agents: z
      .object({
        /** host:port where the daemon serves router agents (wss). */
        listen: z.string().min(1).default('0.0.0.0:4507'),
        /** The conductor-agent's own state (signing key, TLS cert, router registry); included in backups. */
        stateDir: absPath.default('/var/lib/ssr-recovery'),
        /** How long `reauth` waits for a router agent's signed report (ms). */
        commandTimeoutMs: z.number().int().positive().default(180_000),
        /** WebSocket ping interval; a router agent silent for two intervals is dropped (ms). */
        heartbeatMs: z.number().int().positive().default(30_000),
        /** Local control socket the CLI uses to reach the daemon (default `/run/ssr-recovery/conductor-agent.sock`). */
        controlSocket: absPath.optional(),
        /** Allowed difference between a router's clock and ours for a signed enrollment (ms). */
        enrollMaxSkewMs: z.number().int().positive().default(300_000),
        /** A connection that has not proved its router key within this time is closed (ms). */
        helloTimeoutMs: z.number().int().positive().default(10_000),
        /** Most connections in their TLS handshake, and most past it still proving their key, at once; more are refused (closed at accept, or HTTP 503) and retry later. */
        maxHandshakes: z.number().int().positive().default(1024),
        /** Most connections with a proved key but no enrolled one (waiting for Salt enrollment) at once. */
        maxUnenrolled: z.number().int().positive().default(256),
        /** An unenrolled connection is closed after this long; the agent reconnects (ms). */
        unenrolledTtlMs: z.number().int().positive().default(120_000),
      })
      .strict()
      .default({
        listen: '0.0.0.0:4507',
        stateDir: '/var/lib/ssr-recovery',
        commandTimeoutMs: 180_000,
        heartbeatMs: 30_000,
        enrollMaxSkewMs: 300_000,
        helloTimeoutMs: 10_000,
        maxHandshakes: 1024,
        maxUnenrolled: 256,
        unenrolledTtlMs: 120_000,
      }),
    verify: z
      .object({
        /** Conductor ports routers need (930 SSH/NETCONF, 4505/4506 Salt; reference/ssr.md §3.1). */
        ports: z.array(z.number().int().positive().max(65535)).default([930, 4505, 4506]),
        /** Conductor addresses to probe; default: the conductor hosts in global.init. */
        hosts: z.array(z.string().min(1)).default([]),
        /** How long `verify` waits for routers to reach Running. */
        timeoutSeconds: z.number().int().positive().default(600),
      })
      .strict()
      .default({ ports: [930, 4505, 4506], hosts: [], timeoutSeconds: 600 }),
    keys: z
      .object({
        /** Where `keys enable-signing` exports master_sign.pub for the router side (served as salt://ssr_recovery/files/). */
        exportDir: absPath.default('/srv/salt/ssr_recovery/files'),
        /** Where `keys rotate` keeps the previous master key pairs for rollback (default `<agents.stateDir>/keys/rotations`). */
        rotationsDir: absPath.optional(),
        /** How long `keys rotate` waits for minions to answer the restarted master. */
        waitSeconds: z.number().int().positive().default(180),
        /** `keys accept --verified`: file of expected minion key fingerprints (JSON `{id: finger}` or `id finger` lines). */
        expectedFingerprintsFile: absPath.optional(),
      })
      .strict()
      .default({ exportDir: '/srv/salt/ssr_recovery/files', waitSeconds: 180 }),
    reauth: z
      .object({
        /** Re-authentications started per second in a fleet wave; default 5 × the master's `worker_threads` (0 = unlimited). */
        rate: z.number().nonnegative().optional(),
        /** Routers in flight at once in a fleet wave. */
        concurrency: z.number().int().positive().default(200),
        /** How long one router may take to re-authenticate on its side (seconds). */
        routerTimeoutSeconds: z.number().int().positive().default(120),
        /** How long a re-authenticated router may take to answer test.ping through salt-api (seconds). */
        verifyTimeoutSeconds: z.number().int().positive().default(60),
        /** The wave journal (`--resume`): outside the backed-up state folder. */
        journalDir: absPath.default('/var/lib/ssr-recovery-reauth'),
        /** SSR reverse-tunnel map (ssh_config: `Host <node>.<router>`, HostName, Port): the first SSH route. */
        nodeIdentifierFile: absPath.default('/var/lib/128technology/connect/nodeIdentifier'),
        /** Direct SSH inventory (YAML/JSON list of {minion, host, port, user, keyFile, passwordFile, sudo}): the second route. */
        inventoryFile: absPath.optional(),
        /** OpenSSH known_hosts file with the routers' pinned host keys (besides the keys their agents reported). */
        knownHostsFile: absPath.optional(),
        /** Defaults for SSH routes (the nodeIdentifier map names no user or key). */
        sshUser: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9._-]{0,31}$/)
          .default('t128'),
        sshKeyFile: absPath.optional(),
        sshPasswordFile: absPath.optional(),
        /** Run the router-side steps through `sudo -n`. */
        sshSudo: z.boolean().default(true),
        /** Seconds one SSH host may take for all its steps (a hanging host does not hold the wave). */
        sshTimeoutSeconds: z.number().int().positive().default(90),
        /** The daemon's automatic wave for routers whose agents report stale-master-key (off by default). */
        auto: z
          .object({
            enabled: z.boolean().default(false),
            /** Never more routers than this in one automatic wave (more stale routers: an operator decides). */
            maxRouters: z.number().int().positive().default(50),
            /** Starts per second in an automatic wave. */
            rate: z.number().positive().default(5),
            /** Only inside this UTC window, `HH:MM-HH:MM` (may wrap midnight); unset = any time. */
            window: z
              .string()
              .regex(/^\d{2}:\d{2}-\d{2}:\d{2}$/)
              .optional(),
            /** Collect stale reports this long before deciding. */
            debounceSeconds: z.number().int().positive().default(30),
          })
          .strict()
          .default({ enabled: false, maxRouters: 50, rate: 5, debounceSeconds: 30 }),
      })
      .strict()
      .default({
        concurrency: 200,
        routerTimeoutSeconds: 120,
        verifyTimeoutSeconds: 60,
        journalDir: '/var/lib/ssr-recovery-reauth',
        nodeIdentifierFile: '/var/lib/128technology/connect/nodeIdentifier',
        sshUser: 't128',
        sshSudo: true,
        sshTimeoutSeconds: 90,
        auto: { enabled: false, maxRouters: 50, rate: 5, debounceSeconds: 30 },
      }),
    restore: z
      .object({
        /** Also stop salt-master after 128T (and start it before 128T): for installs where 128T does not manage it. */
        stopSaltMaster: z.boolean().default(false),
        /** More absolute paths (files or folders) a restore may write, beyond the backup's set and backup.extraPaths. */
        extraPaths: z.array(absPath).default([]),
        /** Journal, staging and kept old files of a running restore: never inside a folder a restore replaces. */
        journalDir: absPath.default('/var/lib/ssr-recovery-restore'),
        /** Refuse archives that expand beyond this many bytes (decompression bombs). */
        maxTotalBytes: z
          .number()
          .int()
          .positive()
          .default(16 * 1024 ** 3),
        /** Refuse archives whose uncompressed/compressed ratio exceeds this. */
        maxRatio: z.number().positive().default(200),
        /** How long post-verify waits for 128T, salt-api and the checks to pass after the start (ms). */
        postVerifyTimeoutMs: z.number().int().nonnegative().default(120_000),
      })
      .strict()
      .default({
        stopSaltMaster: false,
        extraPaths: [],
        journalDir: '/var/lib/ssr-recovery-restore',
        maxTotalBytes: 16 * 1024 ** 3,
        maxRatio: 200,
        postVerifyTimeoutMs: 120_000,
      }),
    migrate: migrateSchema,
    observe: z
      .object({
        /** host:port of the read-only metrics (`/metrics`), health (`/healthz`) and status page (`/`) endpoint, or `off`. */
        listen: z.string().min(1).default('127.0.0.1:9128'),
        /** Status page refresh interval (seconds). */
        refreshSeconds: z.number().int().positive().default(5),
      })
      .strict()
      .default({ listen: '127.0.0.1:9128', refreshSeconds: 5 }),
    services: z.record(z.string(), serviceCommands).default({}),
    log: z
      .object({ level: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' }),
  })
  .strict();

/** A zod type per router key kind: the canonical check the fast path's KIND_CHECKS mirror. */
const ZOD_OF_KIND: Record<KeyKind, () => z.ZodType> = {
  string: () => z.string().min(1),
  absPath: () => absPath,
  positiveInt: () => z.number().int().positive(),
  nonNegativeInt: () => z.number().int().nonnegative(),
  stringList: () => z.array(z.string().min(1)),
  logLevel: () => z.enum(LOG_LEVELS),
};

/** One router config section as zod, from its definition in router-keys.ts. */
function routerSection(spec: Record<string, KeySpec>) {
  const shape: Record<string, z.ZodType> = {};
  const defaults: Record<string, unknown> = {};
  for (const [key, k] of Object.entries(spec)) {
    const t = k.doc ? ZOD_OF_KIND[k.kind]().describe(k.doc) : ZOD_OF_KIND[k.kind]();
    if (k.default === undefined) shape[key] = t.optional();
    else {
      const dflt = k.default;
      shape[key] = t.default(() => (Array.isArray(dflt) ? [...dflt] : dflt));
      defaults[key] = dflt;
    }
  }
  return z
    .object(shape)
    .strict()
    .default(() => structuredClone(defaults));
}

/** Built from ROUTER_SECTIONS (shared/config/router-keys.ts), the one definition of the router keys. */
export const routerSchema = z
  .object({
    minion: routerSection(ROUTER_SECTIONS.minion),
    conductor: routerSection(ROUTER_SECTIONS.conductor),
    agent: routerSection(ROUTER_SECTIONS.agent),
    observe: routerSection(ROUTER_SECTIONS.observe),
    services: z.record(z.string(), serviceCommands).default({}),
    log: routerSection(ROUTER_SECTIONS.log),
  })
  .strict();

export type ConductorConfig = z.infer<typeof conductorSchema>;
export type ServiceCommandsConfigMap = Record<string, z.infer<typeof serviceCommands>>;
export type RouterConfig = { [S in keyof typeof ROUTER_SECTIONS]: SectionOf<(typeof ROUTER_SECTIONS)[S]> } & {
  services: ServiceCommandsConfigMap;
};
export type ServiceCommandsConfig = z.infer<typeof serviceCommands>;

export { underRoot } from './root.js';
