/**
 * Pure backup planning: which system paths go in, which are required, and what the archive is
 * called. No file system access here; `collect.ts` turns the plan into entries.
 */
import { conductorFileSet, fileSetConfigOf } from '../../shared/backup/file-set.js';
import type { ConductorConfig } from '../../shared/config/schema.js';
import { archiveName } from './naming.js';

export interface BackupSource {
  /** Absolute system path (not under --root). */
  systemPath: string;
  /** Missing required sources fail the backup; missing optional ones are listed in the report. */
  required: boolean;
  /** What must be found there: a regular file, a folder (taken whole), or either. */
  kind: 'file' | 'dir' | 'any';
  /** Why it is in the backup (shown when it is missing). */
  why: string;
}

export interface BackupPlan {
  sources: BackupSource[];
  /** System paths never to include (the backup folder itself). */
  exclude: string[];
  /** Backup folder (system path). */
  dir: string;
  /** Final file name (`…tar.gz` or `…tar.gz.age`). */
  fileName: string;
  createdAt: Date;
  host: string;
  node: string;
  encrypted: boolean;
}

/**
 * The backup's sources: the conductor file set (shared/backup/file-set.ts, the one definition
 * restore and verify read too), in archive order. The `check` items only make sure that what a
 * restore needs is inside the pki folder taken whole.
 */
export function planSources(config: ConductorConfig): BackupSource[] {
  return conductorFileSet(fileSetConfigOf(config)).map(({ systemPath, required, kind, why }) => ({
    systemPath,
    required,
    kind,
    why,
  }));
}

export interface PlanInput {
  config: ConductorConfig;
  host: string;
  node: string;
  createdAt: Date;
  /** Override backup.dir (the `--dir` flag). */
  dir?: string | undefined;
}

/** The whole plan for one run. */
export function planBackup(input: PlanInput): BackupPlan {
  const dir = input.dir ?? input.config.backup.dir;
  const encrypted = input.config.backup.encrypt.recipients.length > 0;
  return {
    sources: planSources(input.config),
    exclude: [dir],
    dir,
    fileName: archiveName(input.host, input.node, input.createdAt, encrypted),
    createdAt: input.createdAt,
    host: input.host,
    node: input.node,
    encrypted,
  };
}
