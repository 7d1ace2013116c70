/**
 * The typed shape of both agents' configuration, with defaults and one comment per field. System
 * paths are written as they are on a real host (absolute); every consumer resolves them under the
 * `--root` prefix with {@link underRoot}, so tests and rehearsals run on a temp tree.
 *
 * Secrets are never values here: they come from files named by `…File` keys.
 */
import { z } from './zod.js';

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

const absPath = z.string().min(1).refine((p) => p.startsWith('/'), { message: 'must be an absolute path' });

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
      })
      .strict()
      .default({ url: 'https://127.0.0.1' }),
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
        dir: '/var/log/128technology', keep: { last: 7, daily: 7, weekly: 4 }, extraPaths: [], trustedSigners: [],
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
      })
      .strict()
      .default({ listen: '0.0.0.0:4507', stateDir: '/var/lib/ssr-recovery', commandTimeoutMs: 180_000, heartbeatMs: 30_000 }),
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
    restore: z
      .object({
        /** Also stop salt-master after 128T (and start it before 128T): for installs where 128T does not manage it. */
        stopSaltMaster: z.boolean().default(false),
        /** More absolute paths (files or folders) a restore may write, beyond the backup's set and backup.extraPaths. */
        extraPaths: z.array(absPath).default([]),
        /** Journal, staging and kept old files of a running restore: never inside a folder a restore replaces. */
        journalDir: absPath.default('/var/lib/ssr-recovery-restore'),
        /** Refuse archives that expand beyond this many bytes (decompression bombs). */
        maxTotalBytes: z.number().int().positive().default(16 * 1024 ** 3),
        /** Refuse archives whose uncompressed/compressed ratio exceeds this. */
        maxRatio: z.number().positive().default(200),
        /** How long post-verify waits for 128T, salt-api and the checks to pass after the start (ms). */
        postVerifyTimeoutMs: z.number().int().nonnegative().default(120_000),
      })
      .strict()
      .default({ stopSaltMaster: false, extraPaths: [], journalDir: '/var/lib/ssr-recovery-restore', maxTotalBytes: 16 * 1024 ** 3, maxRatio: 200, postVerifyTimeoutMs: 120_000 }),
    services: z.record(z.string(), serviceCommands).default({}),
    log: z
      .object({ level: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' }),
  })
  .strict();

export const routerSchema = z
  .object({
    minion: z
      .object({
        /** Minion id; default: `<root>/etc/salt/minion_id`, else `id:` in the minion config. */
        id: z.string().min(1).optional(),
        configDir: absPath.default('/etc/salt'),
        pkiDir: absPath.default('/etc/salt/pki/minion'),
        logFile: absPath.default('/var/log/salt/minion'),
        /** The minion's systemd unit (verbs overridable with `services.minion.*`). */
        service: z.string().min(1).default('salt-minion'),
      })
      .strict()
      .default({ configDir: '/etc/salt', pkiDir: '/etc/salt/pki/minion', logFile: '/var/log/salt/minion', service: 'salt-minion' }),
    conductor: z
      .object({
        /** Conductor agent endpoints (`host` or `host:port`); default: the conductor hosts in global.init. */
        addresses: z.array(z.string().min(1)).default([]),
        /** The conductor-agent's Ed25519 public key (PEM or path to a PEM file) pinned at install. */
        agentPublicKey: z.string().min(1).optional(),
        /** SHA-256 fingerprint of the conductor-agent's TLS certificate (pinned). */
        certFingerprint: z.string().min(1).optional(),
        /** Port of the conductor-agent's wss listener. */
        port: z.number().int().positive().default(4507),
      })
      .strict()
      .default({ addresses: [], port: 4507 }),
    agent: z
      .object({
        /** The router agent's own state (its key pair, rollback copies). */
        stateDir: absPath.default('/var/lib/ssr-recovery-router'),
        /** Command line of salt-call, used to announce the agent key (enrollment over a Salt event). */
        saltCall: z.string().min(1).default('salt-call'),
        /** How long a re-authentication waits for the minion to cache the pinned key (ms). */
        reauthTimeoutMs: z.number().int().positive().default(120_000),
        /** How long the minion must stay up with the pinned key before success is reported (ms). */
        settleMs: z.number().int().nonnegative().default(3_000),
        /** Trust watcher poll interval: log tail, cached key, service state (ms). */
        pollMs: z.number().int().positive().default(2_000),
        /** Heartbeat interval on the conductor connection; silence for 2.5 intervals = dead peer (ms). */
        heartbeatMs: z.number().int().positive().default(15_000),
      })
      .strict()
      .default({ stateDir: '/var/lib/ssr-recovery-router', saltCall: 'salt-call', reauthTimeoutMs: 120_000, settleMs: 3_000, pollMs: 2_000, heartbeatMs: 15_000 }),
    services: z.record(z.string(), serviceCommands).default({}),
    log: z
      .object({ level: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' }),
  })
  .strict();

export type ConductorConfig = z.infer<typeof conductorSchema>;
export type RouterConfig = z.infer<typeof routerSchema>;
export type ServiceCommandsConfig = z.infer<typeof serviceCommands>;

/** Resolve an absolute system path under the root prefix (`/` on a real host). */
export function underRoot(root: string, systemPath: string): string {
  if (root === '/' || root === '') return systemPath;
  return root.replace(/\/+$/, '') + (systemPath.startsWith('/') ? systemPath : '/' + systemPath);
}
