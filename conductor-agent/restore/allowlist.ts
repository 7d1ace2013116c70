/**
 * The only system paths a restore may write: the conductor file set (shared/backup/file-set.ts,
 * the one definition backup, restore, verify and the docs read) plus `restore.extraPaths`. The
 * allowlist comes from configuration, never from the archive: an archive (and its manifest) is
 * untrusted input.
 */
import {
  allowlistOf,
  fileSetConfigOf,
  type Allowlist,
  type FileSetConfigSource,
} from '../../shared/backup/file-set.js';

export { isAllowed, isAncestorOfAllowed, type Allowlist } from '../../shared/backup/file-set.js';

export interface AllowlistInput {
  pkiDir: string;
  stateDir: string;
  rotationsDir?: string | undefined;
  /** backup.extraPaths + restore.extraPaths (files or folders). */
  extraPaths?: readonly string[];
}

/** Build the allowlist from explicit paths. */
export function buildAllowlist(input: AllowlistInput): Allowlist {
  const { pkiDir, stateDir, rotationsDir } = input;
  return allowlistOf({ pkiDir, stateDir, rotationsDir, restoreExtraPaths: input.extraPaths ?? [] });
}

/** The allowlist for a loaded configuration (file set + backup.extraPaths + restore.extraPaths). */
export function allowlistForConfig(config: FileSetConfigSource): Allowlist {
  return allowlistOf(fileSetConfigOf(config));
}
