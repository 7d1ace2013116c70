/**
 * `createBackup`: plan → lock → collect → stream (manifest + hashes + parallel gzip) into a 0600 temp
 * file → optional age encryption → sidecar + rename + folder fsync → optional off-box copy →
 * optional retention → {@link BackupReport}. Any failure before the rename leaves no archive and the
 * previous ones untouched (the temp file is removed; a kill -9 leaves a dot-temp that the next run
 * cleans under the lock).
 */
import { promises as fsp } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConductorConfig } from '../../shared/config/schema.js';
import { underRoot } from '../../shared/config/schema.js';
import { BackupError, RecoveryError } from '../../shared/errors.js';
import { ensureDir, PRIVATE_DIR_MODE } from '../../shared/fs/atomic.js';
import { acquireLock } from '../../shared/fs/lock.js';
import { nullLogger, type Logger } from '../../shared/log/logger.js';
import { CONDUCTOR_FILES, MASTER_PKI, type GlobalInit, type LocalInit } from '../../shared/ssr/layout.js';
import { writeArchive } from './archive-writer.js';
import { collectEntries } from './collect.js';
import { cleanLeftovers, commitArchive, openTemp, sha256File } from './commit.js';
import { encrypterFor, encryptFile } from './encrypt.js';
import { loadOwnerNames, type OwnerNames } from './owners.js';
import { planBackup } from './plan.js';
import { loadBackupSigner } from './signer.js';
import type { ManifestSigner } from '../../shared/backup/signature.js';
import { pruneBackups, type PruneReport } from './prune.js';
import type { RetentionPolicy } from './retention.js';
import { systemSourceFs, type SourceFs } from './source-fs.js';
import type { OffboxResult, OffboxUploader } from './offbox.js';

export const LOCK_NAME = '.conductor-backup.lock';

export interface CreateBackupOptions {
  config: ConductorConfig;
  /** Root prefix for every system path (default `/`). */
  root?: string;
  /** Backup folder as a system path (default `backup.dir`). */
  dir?: string | undefined;
  /** Injected clock (tests use a fixed time for names). */
  now?: () => Date;
  /** This machine's hostname (default `os.hostname()`). */
  hostname?: string;
  fs?: SourceFs;
  owners?: OwnerNames;
  logger?: Logger;
  /** SSR version when known (the caller asks the conductor or rpm). */
  ssrVersion?: string | undefined;
  /** Content bytes read so far of `total`. */
  onProgress?: (done: number, total: number) => void;
  /** Apply this retention after a successful run (scheduled runs pass `backup.keep`). */
  prune?: RetentionPolicy | undefined;
  /** Off-box copy: default = upload when `backup.offbox` is configured; false = skip. */
  offbox?: OffboxUploader | false | undefined;
  /** Tuning for benchmarks: gzip level, chunk size and compression concurrency. */
  tuning?: { level?: number; chunkSize?: number; concurrency?: number };
  /** Cancel (daemon shutdown): checked between files; the temp file is removed, nothing is committed. */
  signal?: AbortSignal | undefined;
  /** Manifest signer: default the conductor-agent identity in `agents.stateDir` (made if missing); false: none. */
  signer?: ManifestSigner | false | undefined;
}

export interface BackupReport {
  ok: true;
  /** Full path of the archive on disk (under --root). */
  archive: string;
  fileName: string;
  sha256: string;
  size: number;
  host: string;
  node: string;
  conductorName?: string | undefined;
  createdAt: string;
  encrypted: boolean;
  files: number;
  folders: number;
  /** Sum of the backed-up files' sizes. */
  contentBytes: number;
  missingOptional: string[];
  skipped: { path: string; reason: string }[];
  masterFingerprint?: string | undefined;
  /** Fingerprint of the key that signed the manifest (the conductor-agent identity); absent = unsigned. */
  signer?: string | undefined;
  durationMs: number;
  /** Leftovers of killed runs removed before this one. */
  cleaned: string[];
  offbox?: OffboxResult | undefined;
  pruned?: PruneReport | undefined;
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Attempts of one backup when a file changes while it is read, and the pause before the next (× attempt). */
const CHANGED_ATTEMPTS = 4;
const CHANGED_RETRY_MS = 250;

/** Make one backup. Throws BACKUP_MISSING_FILES, BACKUP_FILE_CHANGED, FS_UNREADABLE, LOCK_HELD, BACKUP_FAILED… */
export async function createBackup(options: CreateBackupOptions): Promise<BackupReport> {
  const now = options.now ?? (() => new Date());
  const started = now().getTime();
  const config = options.config;
  const root = options.root ?? '/';
  const resolve = (p: string): string => underRoot(root, p);
  const logger = (options.logger ?? nullLogger).child({ component: 'backup' });
  const fs = options.fs ?? systemSourceFs;
  const host = options.hostname ?? osHostname();
  const local = await readJson<LocalInit>(resolve(CONDUCTOR_FILES.localInit));
  const global = await readJson<GlobalInit>(resolve(CONDUCTOR_FILES.globalInit));
  const node = local?.init?.id ?? 'unknown-node';
  if (config.backup.encrypt.recipients.length) await encrypterFor(config.backup.encrypt.recipients);
  const plan = planBackup({ config, host, node, createdAt: now(), dir: options.dir });
  const dir = resolve(plan.dir);
  const target = join(dir, plan.fileName);

  await ensureDir(dir, (await exists(dir)) ? undefined : PRIVATE_DIR_MODE);
  const lock = await acquireLock(join(dir, LOCK_NAME), { purpose: 'backup' });
  try {
    const cleaned = await cleanLeftovers(dir);
    if (cleaned.length) logger.info('removed leftovers of an interrupted backup', { files: cleaned });
    if (await exists(target)) {
      throw new BackupError('BACKUP_FAILED', `${target} already exists`, {
        details: { path: target },
        hint: 'Wait a second and run again (names carry the time to the second).',
      });
    }
    // Before collecting: a first-use identity is created in agents.stateDir and so is in this backup.
    const signer =
      options.signer === false
        ? undefined
        : (options.signer ?? (await loadBackupSigner(resolve(config.agents.stateDir))));
    const owners = options.owners ?? loadOwnerNames();
    const masterPubPath = `${config.salt.pkiDir.replace(/\/+$/, '')}/${MASTER_PKI.publicKey}`;
    const writeOnce = async (): Promise<BackupReport> => {
      const collected = await collectEntries(plan.sources, { resolve, fs, owners, exclude: plan.exclude });
      const meta = {
        createdAt: plan.createdAt,
        host,
        node,
        conductorName: global?.init?.routerName,
        ssrVersion: options.ssrVersion,
        hasMasterPub: collected.entries.some((e) => e.systemPath === masterPubPath),
        missingOptional: collected.missingOptional,
        skipped: collected.skipped,
      };
      logger.info('backup started', { archive: target, files: collected.entries.length, bytes: collected.totalBytes });

      const plain = await openTemp(target);
      const temps = [plain.path];
      try {
        let written;
        try {
          written = await writeArchive({
            fd: plain.handle.fd,
            meta,
            entries: collected.entries,
            fs,
            masterPubPath,
            ...options.tuning,
            signal: options.signal,
            signer,
            onProgress: options.onProgress ? (done) => options.onProgress!(done, collected.totalBytes) : undefined,
          });
          await plain.handle.sync();
        } finally {
          await plain.handle.close();
        }
        let sha256: string;
        let finalTemp = plain.path;
        if (plan.encrypted) {
          const enc = await openTemp(target);
          temps.push(enc.path);
          try {
            sha256 = await encryptFile(plain.path, enc.handle, config.backup.encrypt.recipients);
            await enc.handle.sync();
          } finally {
            await enc.handle.close();
          }
          await fsp.rm(plain.path, { force: true });
          finalTemp = enc.path;
        } else {
          sha256 = await sha256File(plain.path);
        }
        await commitArchive(finalTemp, target, sha256);
        const size = (await fsp.stat(target)).size;
        const report: BackupReport = {
          ok: true,
          archive: target,
          fileName: basename(target),
          sha256,
          size,
          host,
          node,
          conductorName: meta.conductorName,
          createdAt: plan.createdAt.toISOString(),
          encrypted: plan.encrypted,
          files: collected.entries.filter((e) => e.type === 'file').length,
          folders: collected.entries.filter((e) => e.type === 'dir').length,
          contentBytes: collected.totalBytes,
          missingOptional: collected.missingOptional,
          skipped: collected.skipped,
          masterFingerprint: written.manifest.masterFingerprint,
          signer: written.manifest.signature?.fingerprint,
          durationMs: 0,
          cleaned,
        };
        logger.info('backup written', { archive: target, size, sha256 });
        return report;
      } catch (err) {
        for (const t of temps) await fsp.rm(t, { force: true }).catch(() => undefined);
        if (err instanceof RecoveryError) throw err;
        throw new BackupError('BACKUP_FAILED', `the backup could not be written: ${(err as Error).message}`, {
          cause: err,
          details: { archive: target },
          hint: 'Check free space and permissions of the backup folder; no archive was written.',
        });
      }
    };
    // A file replaced or removed while it is read (the daemon's registry written by rename, a key
    // Salt moves) fails the attempt: the archive must be one consistent view. Such changes are
    // brief, so the whole collect and write is tried again, a bounded number of times.
    let committed: BackupReport | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        committed = await writeOnce();
        break;
      } catch (err) {
        if (!(err instanceof BackupError) || err.code !== 'BACKUP_FILE_CHANGED' || attempt >= CHANGED_ATTEMPTS)
          throw err;
        logger.warn('a file changed while it was backed up; collecting again', {
          path: (err.details as { path?: string } | undefined)?.path,
          attempt,
          of: CHANGED_ATTEMPTS,
        });
        await sleep(CHANGED_RETRY_MS * attempt, undefined, { signal: options.signal }).catch(() => undefined);
      }
    }
    // The archive is in place from here on: the off-box copy and retention report, never undo it.
    const report = committed!;
    if (options.offbox !== false && (options.offbox || config.backup.offbox)) {
      const uploader =
        options.offbox || (await import('./offbox.js')).sftpUploader(config.backup.offbox!, { resolve, logger });
      report.offbox = await uploader.upload(target, report.sha256, { host, node });
    }
    if (options.prune) report.pruned = await pruneBackups(dir, options.prune, { host, logger, lockHeld: true });
    report.durationMs = now().getTime() - started;
    return report;
  } finally {
    await lock.release();
  }
}

async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    () => false,
  );
}
