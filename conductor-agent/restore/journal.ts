/**
 * The restore journal: a write-ahead record of what a restore is doing, fsync'd at every phase
 * change, so a restore killed at any point (kill -9, power loss) can be finished (`--resume`) or
 * undone (`--rollback`). It lives in `restore.journalDir` (default /var/lib/ssr-recovery-restore),
 * a folder no backup contains and no restore replaces; staging and the kept old files sit beside it.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { RestoreError } from '../../shared/errors.js';
import { ensureDir, PRIVATE_DIR_MODE, writeFileAtomic } from '../../shared/fs/atomic.js';
import type { MemberKind, StagedMember } from './types.js';

/** Phases in order; a journal's phase says which steps are complete. */
export const PHASES = [
  'staging',
  'staged',
  'stopping',
  'stopped',
  'saving',
  'applying',
  'applied',
  'starting',
  'started',
] as const;
export type Phase = (typeof PHASES)[number];

export const phaseAtLeast = (p: Phase, q: Phase): boolean => PHASES.indexOf(p) >= PHASES.indexOf(q);

export interface JournalChange {
  path: string;
  kind: MemberKind;
  action: 'add' | 'replace';
  /** For `replace`: the old file's saved copy (relative to the run folder), or the old folder's metadata. */
  saved?: string;
  oldMeta?: { mode: number; uid: number; gid: number };
}

export interface Journal {
  version: 1;
  id: string;
  createdAt: string;
  host: string;
  pid: number;
  archive: string;
  /** The root prefix the restore runs under. */
  root: string;
  /** Options needed to resume (never secrets: the identity is a path). */
  options: { identityFile?: string; node?: string; yes?: boolean };
  phase: Phase;
  /** Set while a rollback is running (a killed rollback is simply run again). */
  rollingBack?: boolean;
  /** Services in stop order, with their state before the restore. */
  services: { name: string; wasActive: boolean }[];
  /** Changes in apply order (empty until staged). */
  changes: JournalChange[];
  /** What post-verify checks against. */
  expect: { masterFingerprint?: string; minionKeys: string[]; verified: boolean; node?: string };
  /** Members with their final metadata (folder modes are set after the files). */
  dirs: Pick<StagedMember, 'path' | 'mode' | 'uid' | 'gid' | 'mtime'>[];
}

/** Paths of one restore run inside the journal folder (absolute, already under the root). */
export interface JournalPaths {
  dir: string;
  file: string;
  lock: string;
  run: (id: string) => { base: string; staging: string; old: string };
}

export function journalPaths(journalDirUnderRoot: string): JournalPaths {
  return {
    dir: journalDirUnderRoot,
    file: join(journalDirUnderRoot, 'journal.json'),
    lock: join(journalDirUnderRoot, 'restore.lock'),
    run: (id) => {
      const base = join(journalDirUnderRoot, `run-${id}`);
      return { base, staging: join(base, 'staging'), old: join(base, 'old') };
    },
  };
}

/** The large, rarely changing part of a journal, kept in `run-<id>/plan.json`. */
type JournalPlan = Pick<Journal, 'changes' | 'dirs' | 'expect'>;
const planFile = (paths: JournalPaths, id: string): string => join(paths.run(id).base, 'plan.json');

/** Read the journal, or undefined when there is none. Throws RESTORE_ROLLBACK_FAILED when it is unreadable. */
export async function readJournal(paths: JournalPaths): Promise<Journal | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(paths.file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const j = JSON.parse(text) as Journal;
    if (j.version !== 1 || !PHASES.includes(j.phase))
      throw new Error(`unknown journal version/phase ${j.version}/${j.phase}`);
    if (phaseAtLeast(j.phase, 'staged'))
      Object.assign(j, JSON.parse(await fsp.readFile(planFile(paths, j.id), 'utf8')) as JournalPlan);
    return j;
  } catch (err) {
    throw new RestoreError(
      'RESTORE_ROLLBACK_FAILED',
      `the restore journal ${paths.file} is unreadable: ${(err as Error).message}`,
      {
        cause: err,
        details: { journal: paths.file },
        hint: 'Inspect the journal folder by hand: old files are kept under run-*/old/.',
      },
    );
  }
}

/**
 * Write the journal atomically (temp + fsync + rename + fsync folder). The per-path plan (thousands
 * of entries) goes to `run-<id>/plan.json` only when `withPlan` is set (when it is made, and when
 * the kept-file names are added), so the many phase changes write a few hundred bytes each.
 */
export async function writeJournal(
  paths: JournalPaths,
  j: Journal,
  options: { withPlan?: boolean } = {},
): Promise<void> {
  await ensureDir(paths.dir, PRIVATE_DIR_MODE);
  const { changes, dirs, expect, ...head } = j;
  if (options.withPlan) {
    await ensureDir(paths.run(j.id).base, PRIVATE_DIR_MODE);
    await writeFileAtomic(
      planFile(paths, j.id),
      `${JSON.stringify({ changes, dirs, expect } satisfies JournalPlan)}\n`,
      { mode: 0o600 },
    );
  }
  await writeFileAtomic(paths.file, `${JSON.stringify(head)}\n`, { mode: 0o600 });
}

/**
 * Remove the journal file, then the run folder (after success or a complete rollback). In this
 * order a kill in between leaves no journal pointing at a missing plan, only an orphan run folder,
 * which the next restore removes (run-support.ts `removeOrphanRuns`).
 */
export async function clearJournal(paths: JournalPaths, j: Journal): Promise<void> {
  await fsp.rm(paths.file, { force: true });
  await fsp.rm(paths.run(j.id).base, { recursive: true, force: true });
}
