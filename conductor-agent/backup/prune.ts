/**
 * Apply retention to a backup folder: only our own archives (named with a parseable timestamp) are
 * ever deleted; hand-made seed archives and anything else are listed as ignored and left alone.
 */
import { promises as fsp } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { CHECKSUM_SUFFIX } from '../../shared/backup/format.js';
import { fsyncDir } from '../../shared/fs/atomic.js';
import { acquireLock } from '../../shared/fs/lock.js';
import { nullLogger, type Logger } from '../../shared/log/logger.js';
import { BackupError } from '../../shared/errors.js';
import { isBackupFileName, parseArchiveName } from './naming.js';
import { planRetention, type RetentionPolicy } from './retention.js';

export interface PruneOptions {
  dryRun?: boolean;
  host?: string;
  logger?: Logger;
  /** The caller already holds the backup lock (createBackup's own retention). */
  lockHeld?: boolean;
}

export interface PruneReport {
  dir: string;
  dryRun: boolean;
  policy: RetentionPolicy;
  kept: { name: string; reasons: string[] }[];
  deleted: string[];
  /** Backup-like files that are not ours to delete (seed-made names). */
  ignored: string[];
}

/** Delete the archives (and their sidecars) the policy does not keep. */
export async function pruneBackups(
  dir: string,
  policy: RetentionPolicy,
  options: PruneOptions = {},
): Promise<PruneReport> {
  const logger = (options.logger ?? nullLogger).child({ component: 'retention' });
  const host = options.host ?? osHostname();
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (err) {
    throw new BackupError('BACKUP_FAILED', `cannot list the backup folder ${dir}: ${(err as Error).message}`, {
      cause: err,
      details: { dir },
    });
  }
  const ours = [];
  const ignored: string[] = [];
  for (const name of names.filter(isBackupFileName)) {
    const parsed = parseArchiveName(name, host);
    if (parsed) ours.push({ name, createdAt: parsed.createdAt, group: parsed.hostNode });
    else ignored.push(name);
  }
  const decisions = planRetention(ours, policy);
  const report: PruneReport = {
    dir,
    dryRun: Boolean(options.dryRun),
    policy,
    kept: decisions.filter((d) => d.keep).map((d) => ({ name: d.name, reasons: d.reasons })),
    deleted: decisions.filter((d) => !d.keep).map((d) => d.name),
    ignored: ignored.sort(),
  };
  if (options.dryRun || report.deleted.length === 0) return report;
  const lock = options.lockHeld
    ? undefined
    : await acquireLock(join(dir, '.conductor-backup.lock'), { purpose: 'backup prune' });
  try {
    for (const name of report.deleted) {
      // Archive first: a kill between the two leaves an orphan sidecar, which the next run removes.
      await fsp.rm(join(dir, name), { force: true });
      await fsp.rm(join(dir, name + CHECKSUM_SUFFIX), { force: true });
      logger.info('backup deleted by retention', { name });
    }
    await fsyncDir(dir);
  } finally {
    await lock?.release();
  }
  return report;
}
