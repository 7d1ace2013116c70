/**
 * Salt's own proof that a router is back: it answers `test.ping` through salt-api. Routers waiting
 * for that proof are pinged in batches (one `local` call with a list target serves hundreds), a few
 * calls in flight, until each answers or its deadline passes. A router's agent saying "done" is
 * never enough on its own.
 */
import type { Clock } from '../../shared/ports/clock.js';

/** The salt-api surface: the subset of `ids` that answers `test.ping` now. */
export interface Pinger {
  ping(ids: readonly string[]): Promise<Set<string>>;
}

export interface BatchPingerOptions {
  pinger: Pinger;
  clock: Clock;
  /** Ids per `test.ping` call (default 500). */
  batch?: number;
  /** Calls in flight at once (default 4). */
  inFlight?: number;
  /** Pause between rounds for ids that did not answer yet (default 500 ms). */
  retryMs?: number;
}

interface Waiting {
  id: string;
  deadline: number;
  resolve: (r: { ok: boolean; error?: string | undefined }) => void;
  notBefore: number;
  lastError?: string | undefined;
}

export class BatchPinger {
  readonly #o: Required<BatchPingerOptions>;
  readonly #queue: Waiting[] = [];
  #active = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(o: BatchPingerOptions) {
    this.#o = { batch: 500, inFlight: 4, retryMs: 500, ...o };
  }

  /** Resolves `{ok: true}` once `id` answers, `{ok: false}` at `deadline` (ms since the epoch). */
  confirm(id: string, deadline: number): Promise<{ ok: boolean; error?: string | undefined }> {
    return new Promise((resolve) => {
      this.#queue.push({ id, deadline, resolve, notBefore: 0 });
      this.#pump();
    });
  }

  #pump(): void {
    const now = this.#o.clock.now();
    while (this.#active < this.#o.inFlight) {
      const ready = this.#take(now);
      if (ready.length === 0) break;
      this.#active++;
      void this.#round(ready).finally(() => {
        this.#active--;
        this.#pump();
      });
    }
    this.#arm(now);
  }

  /** Up to `batch` ids due now; expired ones are resolved as failed. */
  #take(now: number): Waiting[] {
    const out: Waiting[] = [];
    for (let i = 0; i < this.#queue.length && out.length < this.#o.batch; ) {
      const w = this.#queue[i]!;
      if (w.deadline <= now) {
        this.#queue.splice(i, 1);
        w.resolve({ ok: false, error: w.lastError });
      } else if (w.notBefore <= now) {
        this.#queue.splice(i, 1);
        out.push(w);
      } else i++;
    }
    return out;
  }

  #arm(now: number): void {
    // A round in flight calls #pump when it ends; a timer is only for ids waiting on their retry time.
    if (this.#timer || this.#queue.length === 0 || this.#active >= this.#o.inFlight) return;
    const next = Math.min(...this.#queue.map((w) => Math.min(w.notBefore, w.deadline)));
    this.#timer = this.#o.clock.setTimeout(
      () => {
        this.#timer = undefined;
        this.#pump();
      },
      Math.max(10, next - now),
    );
    this.#timer.unref?.();
  }

  async #round(batch: Waiting[]): Promise<void> {
    let answered: Set<string>;
    let error: string | undefined;
    try {
      answered = await this.#o.pinger.ping(batch.map((w) => w.id));
    } catch (err) {
      answered = new Set();
      error = `test.ping through salt-api failed: ${(err as Error).message}`;
    }
    const now = this.#o.clock.now();
    for (const w of batch) {
      if (answered.has(w.id)) w.resolve({ ok: true });
      else if (now >= w.deadline) w.resolve({ ok: false, error: error ?? w.lastError });
      else this.#queue.push({ ...w, notBefore: now + this.#o.retryMs, lastError: error ?? w.lastError });
    }
  }
}
