/**
 * Helpers of the restore entry points: report construction, refusal from findings, the
 * journal-present error, the journal folder's own lifecycle and dry-run's independent verify.
 */
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import { RecoveryError, RestoreError, type ErrorCode } from '../../shared/errors.js';
import type { Allowlist } from './allowlist.js';
import type { Journal, JournalPaths } from './journal.js';
import type { Finding, RestoreReport } from './types.js';

export const newReport = (mode: RestoreReport['mode'], root: string, archive?: string): RestoreReport => ({
  ok: false,
  mode,
  root,
  ...(archive ? { archive } : {}),
  findings: [],
  verdict: 'n/a',
  applied: [],
  postVerify: [],
  rolledBack: false,
  timings: {},
});

/** Attach the report to an error so callers (CLI, drill) can print what happened. */
export function withReport(err: unknown, report: RestoreReport): unknown {
  if (err instanceof RecoveryError) {
    report.error = { code: err.code, message: err.message };
    (err.details as Record<string, unknown>).report = report;
  }
  return err;
}

export function refuseOnFindings(findings: Finding[], report: RestoreReport): void {
  const fails = findings.filter((f) => f.level === 'fail');
  report.verdict = fails.length ? 'refused' : 'go';
  if (!fails.length) return;
  const code = (fails.find((f) => f.code && f.code !== 'RESTORE_PREFLIGHT')?.code ?? 'RESTORE_PREFLIGHT') as ErrorCode;
  throw new RestoreError(code, `restore refused by preflight: ${fails.map((f) => f.summary).join('; ')}`, {
    details: { findings: fails },
    hint: 'Nothing was changed. Fix what the findings say, then run restore again (--dry-run shows the plan).',
  });
}

export function journalPresent(paths: JournalPaths, j: Journal): RestoreError {
  return new RestoreError(
    'RESTORE_JOURNAL_PRESENT',
    `an interrupted restore (${j.archive}, phase ${j.phase}${j.rollingBack ? ', rolling back' : ''}) left a journal at ${paths.file}`,
    {
      details: { journal: paths.file, phase: j.phase, archive: j.archive, rollingBack: Boolean(j.rollingBack) },
      hint: j.rollingBack
        ? 'Finish undoing it with `conductor-agent restore --rollback`.'
        : 'Choose: `conductor-agent restore --resume` finishes that restore, `conductor-agent restore --rollback` undoes it.',
    },
  );
}

/** Restore a conductor from a backup. Resolves with the report; throws a RecoveryError (with `details.report`) otherwise. */

/** `dir` and its ancestors that do not exist yet, deepest first. */
export async function missingFolders(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (let d = dir; d !== dirname(d); d = dirname(d)) {
    try {
      await fsp.lstat(d);
      break;
    } catch {
      out.push(d);
    }
  }
  return out;
}

/** Leave no trace: remove the journal folder (and folders made for it) when nothing is left inside. */
export async function removeIfEmpty(dirs: string[]): Promise<void> {
  for (const d of dirs) await fsp.rmdir(d).catch(() => undefined);
}

/**
 * Remove what a killed run left beside no journal: `run-<id>/` (a whole staging copy, private
 * keys included) and `dry-run-<id>/` folders. The journal is removed before its run folder (a
 * journal whose run folder is gone would be unreadable), so a kill between the two leaves an
 * orphan; call only with the restore lock held and no journal present.
 */
export async function removeOrphanRuns(paths: JournalPaths): Promise<string[]> {
  const names = await fsp.readdir(paths.dir).catch(() => [] as string[]);
  const orphans = names.filter((n) => /^(dry-)?run-[0-9A-Za-z-]+$/.test(n));
  for (const n of orphans) await fsp.rm(`${paths.dir}/${n}`, { recursive: true, force: true });
  return orphans;
}

export async function dropRun(paths: JournalPaths, j: Journal): Promise<void> {
  await fsp.rm(paths.run(j.id).base, { recursive: true, force: true });
  await fsp.rm(paths.file, { force: true });
}

/**
 * A dry-run also runs `backup verify`'s own reader over the archive: a second, independent
 * implementation of the format agreeing with restore's. A real restore does not (it would read the
 * archive twice); its single pass makes the same checks before anything changes.
 */
export async function independentVerify(
  archive: string,
  identityFile: string | undefined,
  allowlist: Allowlist,
): Promise<Finding> {
  const { verifyArchive } = await import('../backup/verify.js');
  try {
    const v = await verifyArchive(archive, { identityFile, allowlist });
    return v.ok
      ? {
          check: 'archive.verify',
          level: v.status === 'verified' ? 'ok' : 'warn',
          summary: `backup verify: ${v.status} (${v.members} member(s), sidecar ${v.sidecar})`,
        }
      : {
          check: 'archive.verify',
          level: 'fail',
          code: v.differences[0]?.code ?? 'ARCHIVE_HASH_MISMATCH',
          summary: `backup verify found ${v.differences.length} difference(s): ${v.differences
            .slice(0, 3)
            .map((d) => d.message)
            .join('; ')}`,
          details: { differences: v.differences.slice(0, 20) },
        };
  } catch (err) {
    return {
      check: 'archive.verify',
      level: 'fail',
      code: err instanceof RecoveryError ? err.code : 'ARCHIVE_CORRUPT',
      summary: `backup verify failed: ${(err as Error).message}`,
    };
  }
}
