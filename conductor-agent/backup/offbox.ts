/**
 * Off-box copy over SFTP with the host key pinned: upload to a dot-temp name, check the remote size
 * and the SHA-256 of the remote bytes (read back over the channel), rename into place, then the
 * sidecar, then keep the newest `keepLast` of this node's backups on the remote.
 *
 * An off-box failure never undoes the local backup: it is reported in {@link OffboxResult} and the
 * CLI turns it into BACKUP_OFFBOX_FAILED after printing the report.
 */
import { promises as fsp } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { ConductorConfig } from '../../shared/config/schema.js';
import { BackupError, RecoveryError, asRecoveryError } from '../../shared/errors.js';
import { nullLogger, type Logger } from '../../shared/log/logger.js';
import { CHECKSUM_SUFFIX } from '../../shared/backup/format.js';
import { openSession, type SshSession, type SshTarget } from '../ssh/session.js';
import { sftpOps, type SftpOps } from '../ssh/sftp.js';
import { sidecarText } from './commit.js';
import { parseArchiveName } from './naming.js';

export type OffboxConfig = NonNullable<ConductorConfig['backup']['offbox']>;

export interface OffboxResult {
  ok: boolean;
  host: string;
  remotePath?: string;
  size?: number;
  sha256?: string;
  /** Remote backups deleted by `keepLast`. */
  pruned?: string[];
  error?: Record<string, unknown>;
  durationMs: number;
}

export interface OffboxUploader {
  upload(archive: string, sha256: string, who: { host: string; node: string }): Promise<OffboxResult>;
}

export interface SftpUploaderOptions {
  /** Resolve system paths (privateKeyFile) under --root. */
  resolve?: (p: string) => string;
  logger?: Logger;
  /** Injected for tests. */
  connect?: (target: SshTarget) => Promise<SshSession>;
}

const remoteJoin = (dir: string, name: string): string => `${dir.replace(/\/+$/, '')}/${name}`;

async function ensureRemoteDir(ops: SftpOps, dir: string): Promise<void> {
  try {
    await ops.stat(dir);
  } catch {
    await ops.mkdir(dir);
  }
}

/** Upload then verify one file; throws on any mismatch. */
async function putVerified(ops: SftpOps, local: string, remote: string, size: number, sha256: string): Promise<void> {
  const part = remoteJoin(remote.slice(0, remote.lastIndexOf('/')) || '/', `.${basename(remote)}.part`);
  await ops.put(local, part);
  try {
    await ops.chmod(part, 0o600);
    const st = await ops.stat(part);
    if (st.size !== size) {
      throw new BackupError('BACKUP_OFFBOX_FAILED', `remote copy ${part} has ${st.size} bytes, expected ${size}`, {
        details: { remote: part, expected: size, actual: st.size },
      });
    }
    const remoteHash = await ops.sha256(part);
    if (remoteHash !== sha256) {
      throw new BackupError('BACKUP_OFFBOX_FAILED', `remote copy ${part} does not match the local SHA-256`, {
        details: { remote: part, expected: sha256, actual: remoteHash },
      });
    }
    await ops.rename(part, remote);
  } catch (err) {
    await ops.unlink(part).catch(() => undefined);
    throw err;
  }
}

/** Keep the newest `keepLast` of this host-node's archives in the remote folder. */
async function pruneRemote(ops: SftpOps, dir: string, hostNode: string, keepLast: number): Promise<string[]> {
  if (keepLast <= 0) return [];
  const names = (await ops.readdir(dir)).map((e) => e.filename);
  const ours = names
    .map((n) => parseArchiveName(n))
    .filter((p): p is NonNullable<typeof p> => p !== undefined && p.hostNode === hostNode)
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const doomed = ours.slice(keepLast).map((p) => p.name);
  for (const n of doomed) {
    await ops.unlink(remoteJoin(dir, n));
    await ops.unlink(remoteJoin(dir, n + CHECKSUM_SUFFIX)).catch(() => undefined);
  }
  return doomed;
}

/** The real uploader for `backup.offbox`. */
export function sftpUploader(cfg: OffboxConfig, options: SftpUploaderOptions = {}): OffboxUploader {
  const logger = (options.logger ?? nullLogger).child({ component: 'offbox', host: cfg.host });
  const resolve = options.resolve ?? ((p: string) => p);
  const connect = options.connect ?? ((t: SshTarget) => openSession(t, { logger }));
  return {
    async upload(archive, sha256, who) {
      const started = Date.now();
      let session: SshSession | undefined;
      try {
        let privateKey: Buffer;
        try {
          privateKey = await fsp.readFile(resolve(cfg.privateKeyFile));
        } catch (err) {
          throw new BackupError(
            'BACKUP_OFFBOX_FAILED',
            `cannot read backup.offbox.privateKeyFile ${cfg.privateKeyFile}: ${(err as Error).message}`,
            { cause: err },
          );
        }
        session = await connect({
          host: cfg.host,
          port: cfg.port,
          username: cfg.username,
          privateKey,
          hostKeyFingerprint: cfg.hostKeyFingerprint,
        });
        const ops = sftpOps(await session.sftp());
        await ensureRemoteDir(ops, cfg.dir);
        const name = basename(archive);
        const remotePath = remoteJoin(cfg.dir, name);
        const size = (await fsp.stat(archive)).size;
        await putVerified(ops, archive, remotePath, size, sha256);
        const sidecar = archive + CHECKSUM_SUFFIX;
        const sideText = sidecarText(sha256, archive);
        await putVerified(
          ops,
          sidecar,
          remotePath + CHECKSUM_SUFFIX,
          Buffer.byteLength(sideText),
          createHash('sha256').update(sideText).digest('hex'),
        );
        const parsed = parseArchiveName(name);
        const pruned = parsed ? await pruneRemote(ops, cfg.dir, parsed.hostNode, cfg.keepLast) : [];
        logger.info('off-box copy verified', { remotePath, size, node: who.node });
        return { ok: true, host: cfg.host, remotePath, size, sha256, pruned, durationMs: Date.now() - started };
      } catch (err) {
        const e = err instanceof RecoveryError ? err : asRecoveryError(err);
        const wrapped =
          e.code === 'INTERNAL'
            ? new BackupError('BACKUP_OFFBOX_FAILED', `off-box copy to ${cfg.host} failed: ${(err as Error).message}`, {
                cause: err,
              })
            : e;
        logger.error('off-box copy failed', { error: wrapped.toJSON() });
        return { ok: false, host: cfg.host, error: wrapped.toJSON(), durationMs: Date.now() - started };
      } finally {
        session?.close();
      }
    },
  };
}
