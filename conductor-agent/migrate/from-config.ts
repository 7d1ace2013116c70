/**
 * Composition root of `migrate` and `verify --conductor`: builds the real ports from configuration —
 * the two SSR API clients (old: `ssr.*`; new: `migrate.to.*` with `{address}` = the first `--to`),
 * the file port to the new conductor (SFTP with a pinned host key, or a local tree), the backup gate
 * over backup/, the new salt-api ping, and the re-pin port (fleet re-authentication against the new
 * master; available only when the new conductor's salt-api is configured, since only its `test.ping`
 * confirms a re-pin).
 */
import { readFile } from 'node:fs/promises';
import type { CommandContext } from '../cli/context.js';
import { ConfigError, RecoveryError } from '../../shared/errors.js';
import { systemClock } from '../../shared/ports/clock.js';
import { systemProcessRunner } from '../../shared/ports/process-runner.js';
import { commandServiceControl } from '../../shared/ports/service-control.js';
import { CONDUCTOR_FILES } from '../../shared/ssr/layout.js';
import { createHttpSsrConductor, readSecretFile } from '../ssr/http-conductor.js';
import type { SsrConductor } from '../ssr/conductor.js';
import { minionPing } from '../verify/from-config.js';
import type { MinionPing } from '../verify/checks.js';
import type { BackupGate, MigrateDeps } from './deps.js';
import { localFiles, sftpFiles, type NewConductorFiles } from './files.js';
import { parseFault } from './journal.js';
import { repinFromConfig } from './repin-config.js';
import type { MigrateArgs } from './types.js';

type Ctx = Pick<CommandContext, 'config' | 'loaded' | 'logger' | 'io'>;

const withAddress = (template: string, address: string): string => template.split('{address}').join(address);

async function caOf(ctx: Ctx, file: string | undefined): Promise<string | undefined> {
  if (!file) return undefined;
  try {
    return await readFile(ctx.loaded.path(file), 'utf8');
  } catch (err) {
    const why = (err as Error).message;
    throw new ConfigError('CONFIG_UNREADABLE', `cannot read the CA file ${file}: ${why}`, { cause: err });
  }
}

function needCredentials(user: string | undefined, file: string | undefined, what: string): [string, string] {
  if (!user || !file) {
    throw new ConfigError('CONFIG_MISSING', `the ${what} SSR API credentials are not configured`, {
      hint:
        what === 'old'
          ? 'Set ssr.username and ssr.passwordFile.'
          : 'Set migrate.to.username and migrate.to.passwordFile (or ssr.username / ssr.passwordFile).',
    });
  }
  return [user, file];
}

/** The old conductor's API (`ssr.*`, PCLI `ssr.pcliCommand` run here). */
export async function oldSsrFromConfig(ctx: Ctx): Promise<SsrConductor> {
  const s = ctx.config.ssr;
  const [username, file] = needCredentials(s.username, s.passwordFile, 'old');
  const svc = ctx.config.services['128T'];
  return createHttpSsrConductor({
    url: s.url,
    username,
    password: await readSecretFile(ctx.loaded.path(file), 'ssr.passwordFile'),
    ca: await caOf(ctx, s.caFile),
    pcliCommand: s.pcliCommand,
    runner: systemProcessRunner,
    service128t: commandServiceControl({ name: '128T', unit: svc?.unit ?? '128T', commands: svc ?? {} }),
  });
}

/** The new conductor's API at `address` (`migrate.to.*`). */
export async function newSsrFromConfig(ctx: Ctx, address: string): Promise<SsrConductor> {
  const t = ctx.config.migrate.to;
  const [username, file] = needCredentials(
    t.username ?? ctx.config.ssr.username,
    t.passwordFile ?? ctx.config.ssr.passwordFile,
    'new',
  );
  return createHttpSsrConductor({
    url: withAddress(t.ssrUrl, address),
    username,
    password: await readSecretFile(ctx.loaded.path(file), 'migrate.to.passwordFile'),
    ca: await caOf(ctx, t.caFile ?? ctx.config.ssr.caFile),
    pcliCommand: withAddress(t.pcliCommand, address),
    runner: systemProcessRunner,
  });
}

export async function newPingFromConfig(ctx: Ctx, address: string): Promise<MinionPing | undefined> {
  const url = ctx.config.migrate.to.saltApiUrl;
  const { saltApiConfigured, saltApiClientFromConfig } = await import('../saltapi/from-config.js');
  if (!url || !saltApiConfigured(ctx.config)) return undefined;
  const config = { ...ctx.config, saltApi: { ...ctx.config.saltApi, url: withAddress(url, address) } };
  return minionPing(await saltApiClientFromConfig(config, { path: ctx.loaded.path, logger: ctx.logger }));
}

async function filesFromConfig(ctx: Ctx, address: string): Promise<NewConductorFiles> {
  const t = ctx.config.migrate.transfer;
  if (t.method === 'local') {
    if (!t.localRoot) {
      throw new ConfigError('CONFIG_MISSING', 'migrate.transfer.method is local but localRoot is unset');
    }
    return localFiles(t.localRoot);
  }
  if (!t.privateKeyFile || !t.hostKeyFingerprint) {
    throw new ConfigError('CONFIG_MISSING', 'migrate.transfer needs privateKeyFile and hostKeyFingerprint for SFTP', {
      hint: "Pin the new conductor's SSH host key (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on it).",
    });
  }
  const privateKey = await readFile(ctx.loaded.path(t.privateKeyFile));
  return sftpFiles(
    {
      host: t.host ?? address,
      port: t.port,
      username: t.username,
      privateKey,
      hostKeyFingerprint: t.hostKeyFingerprint,
    },
    t.remoteRoot,
  );
}

function backupGate(ctx: Ctx): BackupGate {
  const dir = ctx.loaded.path(ctx.config.backup.dir);
  return {
    async find() {
      const { listBackups } = await import('../backup/list.js');
      const max = ctx.config.migrate.backupMaxAgeHours * 3600;
      const found = (await listBackups(dir, { check: 'deep' })).find(
        (b) => b.kind === 'ours' && b.verified === 'verified' && b.ageSeconds <= max,
      );
      return found ? { archive: found.path, ageHours: found.ageSeconds / 3600 } : undefined;
    },
    async take() {
      const { createBackup } = await import('../backup/run.js');
      const { verifyArchive } = await import('../backup/verify.js');
      const made = await createBackup({ config: ctx.config, root: ctx.loaded.root, logger: ctx.logger });
      const v = await verifyArchive(made.archive);
      if (v.status !== 'verified') {
        throw new RecoveryError(
          'BACKUP_FAILED',
          `the backup taken before the migration does not verify: ${made.archive}`,
        );
      }
      return { archive: made.archive };
    },
  };
}

/** Everything but the callbacks, from configuration and the parsed arguments. */
export async function migrateDepsFromConfig(ctx: Ctx, args: MigrateArgs): Promise<MigrateDeps> {
  const c = ctx.config;
  const to0 = args.to[0] ?? '';
  const { readMasterConfig } = await import('../keys/master-config.js');
  const hashType = (await readMasterConfig(ctx.loaded.path(c.salt.masterConfig))).settings.hashType;
  const files = await filesFromConfig(ctx, to0);
  return {
    args,
    oldSsr: await oldSsrFromConfig(ctx),
    newSsr: await newSsrFromConfig(ctx, to0),
    files,
    backup: backupGate(ctx),
    repin: repinFromConfig(ctx, to0, {
      newPkiDir: c.salt.pkiDir,
      oldPkiDir: ctx.loaded.path(c.salt.pkiDir),
      hashType,
      files: () => files,
    }),
    ping: await newPingFromConfig(ctx, to0),
    hashType,
    clock: systemClock,
    logger: ctx.logger,
    fault: parseFault(ctx.io.env.SSR_RECOVERY_MIGRATE_FAULT),
    paths: {
      oldPkiDir: ctx.loaded.path(c.salt.pkiDir),
      oldExportsDir: ctx.loaded.path(CONDUCTOR_FILES.configExports),
      journalDir: ctx.loaded.path(c.migrate.journalDir ?? `${c.agents.stateDir}/migrate`),
      newPkiDir: c.salt.pkiDir,
      newExportsDir: CONDUCTOR_FILES.configExports,
    },
    settings: {
      concurrency: c.migrate.concurrency,
      connectedTimeoutMs: c.migrate.connectedTimeoutSeconds * 1000,
      runningTimeoutMs: c.migrate.runningTimeoutSeconds * 1000,
      pollMs: c.migrate.pollMs,
      pingTimeoutMs: c.migrate.pingTimeoutSeconds * 1000,
      trust: c.migrate.trust,
      ports: c.verify.ports,
    },
  };
}
