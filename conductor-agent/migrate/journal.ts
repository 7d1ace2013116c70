/**
 * The migration journal: one JSON record per line, appended and flushed before the step it announces
 * is trusted, so a run killed at any point (kill -9, power loss) can be resumed. A torn last line is
 * ignored on read. The journal is private (0600 in a 0700 folder) and holds no secrets.
 *
 * Fault injection for the kill tests (shared/fault.ts): `SSR_RECOVERY_MIGRATE_FAULT=<phase>[:<n>]` makes the
 * process kill itself with SIGKILL right after the n-th record of that phase is on disk.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, ensureDir } from '../../shared/fs/atomic.js';
import { FaultSwitch, type FaultPoint } from '../../shared/fault.js';
import type { JournalRecord, RouterPhase, RunPhase } from './types.js';

export { parseFault, type FaultPoint } from '../../shared/fault.js';

export const JOURNAL_FILE = 'journal.jsonl';

/** What a journal says happened, folded from its records. */
export interface JournalState {
  runPhases: Map<RunPhase, Record<string, unknown>>;
  routers: Map<string, { phase: RouterPhase; data: Record<string, unknown>; history: RouterPhase[] }>;
  records: number;
}

export function foldJournal(records: readonly JournalRecord[]): JournalState {
  const state: JournalState = { runPhases: new Map(), routers: new Map(), records: records.length };
  for (const r of records) {
    if (r.t === 'run') state.runPhases.set(r.phase, r.data ?? {});
    else {
      const prev = state.routers.get(r.router);
      const data = { ...(prev?.data ?? {}), ...(r.data ?? {}) };
      state.routers.set(r.router, { phase: r.phase, data, history: [...(prev?.history ?? []), r.phase] });
    }
  }
  return state;
}

/** Read a journal; undefined when there is none. */
export async function readJournal(dir: string): Promise<JournalRecord[] | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(join(dir, JOURNAL_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const out: JournalRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const r = JSON.parse(line) as JournalRecord;
      if (r && (r.t === 'run' || r.t === 'router')) out.push(r);
    } catch {
      // a torn last line from a killed run: everything before it stands
    }
  }
  return out;
}

export class Journal {
  private constructor(
    private readonly handle: fsp.FileHandle,
    readonly path: string,
    private readonly fault: FaultSwitch,
    private readonly now: () => number,
  ) {}

  /** Open (create or append to) the journal in `dir`. */
  static async open(
    dir: string,
    options: { fault?: FaultPoint | undefined; now?: () => number } = {},
  ): Promise<Journal> {
    await ensureDir(dir, PRIVATE_DIR_MODE);
    await fsp.chmod(dir, PRIVATE_DIR_MODE).catch(() => undefined);
    const path = join(dir, JOURNAL_FILE);
    const handle = await fsp.open(path, 'a', PRIVATE_FILE_MODE);
    return new Journal(handle, path, new FaultSwitch(options.fault), options.now ?? Date.now);
  }

  run(phase: RunPhase, data?: Record<string, unknown>): Promise<void> {
    return this.append({ t: 'run', phase, at: this.now(), ...(data ? { data } : {}) });
  }

  router(router: string, phase: RouterPhase, data?: Record<string, unknown>): Promise<void> {
    const failed = this.noteError;
    if (failed) {
      this.noteError = undefined;
      return Promise.reject(failed);
    }
    return this.append({ t: 'router', phase, router, at: this.now(), ...(data ? { data } : {}) });
  }

  /**
   * A progress record nothing waits on: queued in order and flushed with the next group, without
   * holding the router's step on a sync. Only for stages a resumed run re-derives from the live
   * state anyway (Connected, key accepted, Running, re-pinned); a failed write is reported by the next
   * record the caller does wait for, or by close().
   */
  note(router: string, phase: RouterPhase, data?: Record<string, unknown>): void {
    this.append({ t: 'router', phase, router, at: this.now(), ...(data ? { data } : {}) }).catch((err: Error) => {
      this.noteError ??= err;
    });
  }

  private noteError: Error | undefined;

  /**
   * Group commit: records queued while a flush runs are written together by the next one, each
   * resolving only once its own bytes are flushed (datasync). 200 routers in flight then cost a few
   * syncs per poll, not one each.
   */
  private append(record: JournalRecord): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ line: `${JSON.stringify(record)}\n`, phase: record.phase, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private queue: Array<{ line: string; phase: string; resolve: () => void; reject: (e: Error) => void }> = [];
  private flushing = false;

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.queue.length);
      try {
        await this.handle.write(batch.map((b) => b.line).join(''));
        await this.handle.datasync();
        for (const b of batch) this.fault.reached(b.phase);
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err as Error);
      }
    }
    this.flushing = false;
  }

  async close(): Promise<void> {
    while (this.flushing || this.queue.length > 0) await new Promise((r) => setImmediate(r));
    await this.handle.close();
    if (this.noteError) throw this.noteError;
  }
}

/** Keep a finished journal beside the next one (`journal-<ms>.jsonl`), so a new run starts clean. */
export async function archiveJournal(dir: string, at: number): Promise<string> {
  const to = join(dir, `journal-${at}.jsonl`);
  await fsp.rename(join(dir, JOURNAL_FILE), to);
  return to;
}
