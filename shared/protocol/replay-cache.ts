/**
 * Nonce memory for signed envelopes: a nonce is remembered until its envelope has expired (plus
 * the clock-skew allowance), so a captured command cannot be played again while it would still be
 * accepted. Bounded: when full of live nonces it refuses new ones rather than forget a live one.
 *
 * Persistence (routers): `persist` writes the live entries durably; a verifier that must not act
 * before the nonce is on disk awaits {@link ReplayCache.flush} (a failed write fails closed). When
 * the memory of an earlier run was missing or unreadable, `notBefore` refuses every envelope
 * issued before that instant: its nonce may have been used by the run whose memory was lost.
 */
import { ProtocolError } from '../errors.js';
import type { Clock } from '../ports/clock.js';

export interface ReplayCacheOptions {
  clock: Pick<Clock, 'now'>;
  /** Most nonces kept at once (default 100,000). */
  maxEntries?: number;
  /** Called after each accepted nonce with the live entries (nonce → forget-after ms). */
  onChange?: (entries: ReadonlyMap<string, number>) => void;
  /** Durable write of the live entries; awaited by {@link ReplayCache.flush}, serialised. */
  persist?: (entries: [string, number][]) => Promise<void>;
  /** Entries restored from a previous run. */
  initial?: Iterable<[string, number]>;
  /** Refuse envelopes issued before this (ms epoch): set when the previous run's memory was lost. */
  notBefore?: number | undefined;
  /** Start as not yet persisted, so the first `flush` writes even before any nonce is remembered. */
  unsaved?: boolean;
}

export class ReplayCache {
  readonly #clock: Pick<Clock, 'now'>;
  readonly #max: number;
  readonly #onChange: ReplayCacheOptions['onChange'];
  readonly #persist: ReplayCacheOptions['persist'];
  readonly #seen = new Map<string, number>();
  readonly notBefore: number | undefined;
  #writing: Promise<void> = Promise.resolve();
  #dirty = false;
  #failure: unknown;

  constructor(options: ReplayCacheOptions) {
    this.#clock = options.clock;
    this.#max = options.maxEntries ?? 100_000;
    this.#onChange = options.onChange;
    this.#persist = options.persist;
    this.notBefore = options.notBefore;
    this.#dirty = options.unsaved ?? false;
    const now = this.#clock.now();
    for (const [nonce, until] of options.initial ?? []) if (until > now) this.#seen.set(nonce, until);
  }

  get size(): number {
    return this.#seen.size;
  }

  /**
   * Throw PROTOCOL_REPLAYED if `nonce` is live (or `issuedAt` is before `notBefore`), else remember
   * it until `forgetAfter` (ms epoch).
   */
  checkAndRemember(nonce: string, forgetAfter: number, issuedAt?: number): void {
    const now = this.#clock.now();
    if (this.notBefore !== undefined && (issuedAt === undefined || issuedAt < this.notBefore)) {
      const why = 'envelope was issued before this agent started and its replay memory was lost';
      throw new ProtocolError('PROTOCOL_REPLAYED', why, {
        details: { issuedAt, notBefore: this.notBefore },
        hint: 'Send the command again: commands issued after the agent started are accepted.',
      });
    }
    const until = this.#seen.get(nonce);
    if (until !== undefined && until > now) {
      throw new ProtocolError('PROTOCOL_REPLAYED', 'this envelope nonce was already used', { details: { nonce } });
    }
    if (this.#seen.size >= this.#max) this.prune();
    if (this.#seen.size >= this.#max) {
      throw new ProtocolError('PROTOCOL_REPLAYED', 'too many live nonces to remember another one; retry shortly', {
        details: { max: this.#max },
      });
    }
    this.#seen.set(nonce, forgetAfter);
    this.#dirty = true;
    this.#onChange?.(this.#seen);
  }

  /**
   * Resolve once every nonce remembered so far is durably persisted; reject (fail closed) when the
   * write failed. Without `persist` it resolves at once.
   */
  flush(): Promise<void> {
    if (!this.#persist) return Promise.resolve();
    const run = async (): Promise<void> => {
      if (!this.#dirty) {
        if (this.#failure) throw this.#failure;
        return;
      }
      this.#dirty = false;
      try {
        await this.#persist!(this.entries());
        this.#failure = undefined;
      } catch (err) {
        this.#dirty = true;
        this.#failure = err;
        throw err;
      }
    };
    this.#writing = this.#writing.catch(() => undefined).then(run);
    return this.#writing;
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
