/**
 * The re-authentication journal: which step a run reached, written atomically before each step
 * that changes the router, so a restarted agent can finish (or undo) what a crash interrupted.
 * Also the last completed run (for rollback) and outcomes not yet delivered to the conductor.
 *
 * Layout under `<agent.stateDir>/reauth/`: `journal.json` (a run in progress), `runs/<id>/` (the
 * files a run replaced), `last.json` (the last run that changed files), `pending-reports.json`.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, ensureDir, PRIVATE_DIR_MODE } from '../../shared/fs/atomic.js';
import type { ReauthOutcome } from '../../shared/protocol/messages.js';

export const STEPS = ['begin', 'snapshotted', 'stopped', 'pinned', 'key-moved', 'started'] as const;
export type ReauthStep = (typeof STEPS)[number];

export interface ReauthJournal {
  id: string;
  action: 'reauth' | 'rollback';
  /** Fingerprint to pin; undefined for --trust-first-master. */
  fingerprint?: string | undefined;
  trustFirstMaster?: boolean | undefined;
  commandId?: string | undefined;
  origin: 'conductor' | 'local';
  startedAt: number;
  step: ReauthStep;
  /** Run folder holding the replaced files. */
  runDir: string;
  snapshot?: { pinFile: boolean; cachedKey: boolean; cachedFingerprint?: string | undefined } | undefined;
  timeoutMs: number;
}

export interface LastRun {
  id: string;
  runDir: string;
  fingerprint?: string | undefined;
  snapshot: NonNullable<ReauthJournal['snapshot']>;
  finishedAt: number;
  ok: boolean;
}

export interface PendingReport {
  commandId?: string | undefined;
  outcome: ReauthOutcome;
}

export class JournalStore {
  readonly dir: string;
  constructor(stateDir: string) {
    this.dir = join(stateDir, 'reauth');
  }

  get journalFile(): string {
    return join(this.dir, 'journal.json');
  }
  get lastFile(): string {
    return join(this.dir, 'last.json');
  }
  get pendingFile(): string {
    return join(this.dir, 'pending-reports.json');
  }
  get lockFile(): string {
    return join(this.dir, 'reauth.lock');
  }
  runDir(id: string): string {
    return join(this.dir, 'runs', id);
  }

  async ensure(): Promise<void> {
    await ensureDir(join(this.dir, 'runs'), PRIVATE_DIR_MODE);
  }

  async read(): Promise<ReauthJournal | undefined> {
    return readJson<ReauthJournal>(this.journalFile);
  }
  async write(j: ReauthJournal): Promise<void> {
    await writeFileAtomic(this.journalFile, JSON.stringify(j, null, 2));
  }
  async clear(): Promise<void> {
    await fsp.rm(this.journalFile, { force: true });
  }

  async readLast(): Promise<LastRun | undefined> {
    return readJson<LastRun>(this.lastFile);
  }
  async writeLast(l: LastRun | undefined): Promise<void> {
    if (l) await writeFileAtomic(this.lastFile, JSON.stringify(l, null, 2));
    else await fsp.rm(this.lastFile, { force: true });
  }

  async pending(): Promise<PendingReport[]> {
    return (await readJson<PendingReport[]>(this.pendingFile)) ?? [];
  }
  /** Queue an outcome for the conductor (replacing an earlier one for the same command). */
  async addPending(p: PendingReport): Promise<void> {
    const all = (await this.pending()).filter((q) => p.commandId === undefined || q.commandId !== p.commandId);
    all.push(p);
    await writeFileAtomic(this.pendingFile, JSON.stringify(all.slice(-20), null, 2));
  }
  async removePending(commandIds: (string | undefined)[]): Promise<void> {
    const rest = (await this.pending()).filter((p) => !commandIds.includes(p.commandId));
    if (rest.length) await writeFileAtomic(this.pendingFile, JSON.stringify(rest, null, 2));
    else await fsp.rm(this.pendingFile, { force: true });
  }
}

async function readJson<T>(p: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(p, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
