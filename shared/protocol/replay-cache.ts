/**
 * Nonce memory for signed envelopes: a nonce is remembered until its envelope has expired (plus
 * the clock-skew allowance), so a captured command cannot be played again while it would still be
 * accepted. Bounded: when full of live nonces it refuses new ones rather than forget a live one.
 * Optional persistence lets a restarted agent keep refusing replays.
 */
import { ProtocolError } from '../errors.js';
import type { Clock } from '../ports/clock.js';

export interface ReplayCacheOptions {
  clock: Pick<Clock, 'now'>;
  /** Most nonces kept at once (default 100,000). */
  maxEntries?: number;
  /** Called after each accepted nonce with the live entries (nonce → forget-after ms). */
  onChange?: (entries: ReadonlyMap<string, number>) => void;
  /** Entries restored from a previous run. */
  initial?: Iterable<[string, number]>;
}

export class ReplayCache {
  readonly #clock: Pick<Clock, 'now'>;
  readonly #max: number;
  readonly #onChange: ReplayCacheOptions['onChange'];
  readonly #seen = new Map<string, number>();

  constructor(options: ReplayCacheOptions) {
    this.#clock = options.clock;
    this.#max = options.maxEntries ?? 100_000;
    this.#onChange = options.onChange;
    const now = this.#clock.now();
    for (const [nonce, until] of options.initial ?? []) if (until > now) this.#seen.set(nonce, until);
  }

  get size(): number {
    return this.#seen.size;
  }

  /** Throw PROTOCOL_REPLAYED if `nonce` is live, else remember it until `forgetAfter` (ms epoch). */
  checkAndRemember(nonce: string, forgetAfter: number): void {
    const now = this.#clock.now();
    const until = this.#seen.get(nonce);
    if (until !== undefined && until > now) {
      throw new ProtocolError('PROTOCOL_REPLAYED', 'this envelope nonce was already used', { details: { nonce } });
    }
    if (this.#seen.size >= this.#max) this.prune();
    if (this.#seen.size >= this.#max) {
      throw new ProtocolError('PROTOCOL_REPLAYED', 'too many live nonces to remember another one; retry shortly', { details: { max: this.#max } });
    }
    this.#seen.set(nonce, forgetAfter);
    this.#onChange?.(this.#seen);
  }

  /** Forget expired nonces. */
  prune(): void {
    const now = this.#clock.now();
    for (const [nonce, until] of this.#seen) if (until <= now) this.#seen.delete(nonce);
  }

  /** The live entries (for persistence). */
  entries(): [string, number][] {
    this.prune();
    return [...this.#seen];
  }
}
