/**
 * Pacing a wave: at most `rate` re-authentications *started* per second (the Salt master's auth
 * storm guard) and at most `concurrency` in flight. Starts follow a fixed schedule `1/rate` apart:
 * a start delayed a little by a busy event loop is made up at once, a stall (more than two
 * intervals or 250 ms) restarts the schedule instead of bunching starts to catch up.
 */
import type { Clock } from '../../shared/ports/clock.js';

export class RateLimiter {
  readonly #interval: number;
  readonly #clock: Clock;
  #next = -Infinity;

  /** `rate` starts per second; 0 or Infinity = unlimited. */
  constructor(rate: number, clock: Clock) {
    this.#interval = rate > 0 && Number.isFinite(rate) ? 1000 / rate : 0;
    this.#clock = clock;
  }

  /** Resolve when the next start is allowed (rejects with the signal's reason when aborted). */
  async acquire(signal?: AbortSignal): Promise<void> {
    if (this.#interval === 0) return;
    const now = this.#clock.now();
    // Starts keep to their schedule (a timer that fired a little late does not lower the rate),
    // but after a real stall the schedule restarts from now instead of bunching starts to catch up.
    if (now - this.#next > Math.max(2 * this.#interval, 250)) this.#next = now;
    const at = this.#next;
    this.#next = at + this.#interval;
    if (at > now) await this.#clock.sleep(at - now, signal);
  }
}

/** A counting semaphore: `take()` resolves when fewer than `limit` are held. */
export class Slots {
  readonly #limit: number;
  #held = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#limit = Math.max(1, Math.floor(limit));
  }

  get held(): number {
    return this.#held;
  }

  take(): Promise<void> {
    if (this.#held < this.#limit) {
      this.#held++;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.#waiting.push(() => {
        this.#held++;
        resolve();
      }),
    );
  }

  release(): void {
    this.#held--;
    this.#waiting.shift()?.();
  }
}

/**
 * The default rate: Salt sizes one master worker per 200 minions (`worker_threads`, default 5), and
 * one worker signs an AES session for a re-authenticating minion in a few milliseconds besides its
 * normal load; 5 re-auths per second per worker keeps the master's workers mostly free for the
 * minions already back (a fleet sized to its master, 200 minions a worker, comes back in ~40 s).
 */
export function defaultRate(workerThreads: number | undefined): number {
  const w = workerThreads && workerThreads > 0 ? workerThreads : 5;
  return 5 * w;
}
