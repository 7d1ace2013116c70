/**
 * The wave's journal on disk, so a crash loses nothing and `--resume` retries only what is not
 * done: `wave.json` (written atomically: who, which master fingerprint, which routers, options) and
 * `outcomes.jsonl` (one line per finished router, written in group-committed batches and flushed to
 * disk within ~100 ms).
 * A torn last line (crash mid-write) is ignored. One wave at a time: `reauth.lock` beside them.
 * The folder (`reauth.journalDir`) is outside the backed-up state folder, like the restore journal.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { RecoveryError } from '../../shared/errors.js';
import { ensureDir, writeFileAtomic, PRIVATE_DIR_MODE } from '../../shared/fs/atomic.js';
import { acquireLock, type LockHandle } from '../../shared/fs/lock.js';
import type { Selection } from './select.js';
import type { RouterOutcome } from './report.js';

export interface WaveHeader {
  version: 1;
  waveId: string;
  conductorId: string;
  masterFingerprint: string;
  selection: Selection;
  rate: number;
  concurrency: number;
  startedAt: string;
  finishedAt?: string | undefined;
}

export interface JournalState {
  header: WaveHeader;
  outcomes: Map<string, RouterOutcome>;
}

const HEADER = 'wave.json';
const OUTCOMES = 'outcomes.jsonl';

export class WaveJournal {
  readonly dir: string;
  readonly #lock: LockHandle;
  #fd: import('node:fs/promises').FileHandle | undefined;
  #header: WaveHeader | undefined;
  #dirty = false;
  #syncing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Lines waiting for the write under way (group commit: one write takes all that queued meanwhile). */
  #queued: { line: string; done: (err?: unknown) => void }[] = [];
  #writing: Promise<void> | undefined;

  private constructor(dir: string, lock: LockHandle) {
    this.dir = dir;
    this.#lock = lock;
  }

  /** Take the wave lock (LOCK_HELD, exit 6, when another wave runs). */
  static async open(dir: string): Promise<WaveJournal> {
    await ensureDir(dir, PRIVATE_DIR_MODE);
    const lock = await acquireLock(join(dir, 'reauth.lock'), { purpose: 'conductor-agent reauth wave' });
    return new WaveJournal(dir, lock);
  }

  /** The journalled wave, if any. */
  async read(): Promise<JournalState | undefined> {
    let header: WaveHeader;
    try {
      header = JSON.parse(await fsp.readFile(join(this.dir, HEADER), 'utf8')) as WaveHeader;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new RecoveryError('FS_UNREADABLE', `${join(this.dir, HEADER)} is not a readable wave journal`, {
        cause: err,
        hint: 'Move the folder aside and start a new wave (routers already done are skipped anyway).',
      });
    }
    const outcomes = new Map<string, RouterOutcome>();
    const text = await fsp.readFile(join(this.dir, OUTCOMES), 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const o = JSON.parse(line) as RouterOutcome;
        if (typeof o.routerId === 'string') outcomes.set(o.routerId, o);
      } catch {
        /* torn last line of a crashed run */
      }
    }
    return { header, outcomes };
  }

  /** Start journalling a wave: a new header, or (resume) the journalled one kept as it is. */
  async begin(header: WaveHeader, resume: boolean): Promise<void> {
    this.#header = header;
    if (!resume) {
      await fsp.rm(join(this.dir, OUTCOMES), { force: true });
      await writeFileAtomic(join(this.dir, HEADER), `${JSON.stringify(header, null, 2)}\n`, { mode: 0o600 });
    }
    this.#fd = await fsp.open(join(this.dir, OUTCOMES), 'a', 0o600);
  }

  /**
   * Append one router's outcome; resolves once its line is written (a process crash then loses
   * nothing; on disk within ~100 ms). Lines that arrive while a write is under way go out together
   * in the next one: one write per batch instead of one per router.
   */
  record(o: RouterOutcome): Promise<void> {
    if (!this.#fd) return Promise.reject(new RecoveryError('INTERNAL', 'journal not started'));
    const line = `${JSON.stringify(o)}\n`;
    return new Promise<void>((resolve, reject) => {
      this.#queued.push({ line, done: (err) => (err ? reject(err) : resolve()) });
      this.#writing ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    for (;;) {
      if (this.#queued.length === 0) {
        this.#writing = undefined; // in the same turn as the last check: a record after this starts a drain
        return;
      }
      const batch = this.#queued;
      this.#queued = [];
      try {
        const bytes = Buffer.from(batch.map((b) => b.line).join(''));
        for (let off = 0; off < bytes.length; ) off += (await this.#fd!.write(bytes, off)).bytesWritten;
      } catch (err) {
        for (const b of batch) b.done(err);
        continue;
      }
      this.#dirty = true;
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        void this.#sync();
      }, 100);
      for (const b of batch) b.done();
    }
  }

  async #sync(): Promise<void> {
    while (this.#syncing) await this.#syncing;
    if (!this.#dirty || !this.#fd) return;
    this.#dirty = false;
    this.#syncing = this.#fd
      .datasync()
      .catch(() => undefined)
      .finally(() => {
        this.#syncing = undefined;
      });
    await this.#syncing;
  }

  /** Flush, mark the wave finished (or leave it open for `--resume` when interrupted), release the lock. */
  async close(finishedAt: string | undefined): Promise<void> {
    while (this.#writing) await this.#writing;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#dirty = true;
    await this.#sync();
    await this.#fd?.close();
    this.#fd = undefined;
    if (finishedAt && this.#header) {
      await writeFileAtomic(join(this.dir, HEADER), `${JSON.stringify({ ...this.#header, finishedAt }, null, 2)}\n`, {
        mode: 0o600,
      });
    }
    await this.#lock.release();
  }
}
