/**
 * The key gate's one ticker per wave: every `everyMs` while routers wait on the gate, one listing of
 * `minions_pre`, then one batched check of the in-flight routers that are listed (every waiting
 * router when the gate cannot list). Before, each in-flight router ran its own poll loop: a timer,
 * an AbortSignal listener and, when it finished, a DOMException per router per 250 ms — ~4,000 a
 * second at 1,000 in flight, a large share of the CLI's CPU in the fleet bench.
 */
import type { Clock } from '../../shared/ports/clock.js';
import type { GateResult, KeyGate } from './key-gate.js';

/** One router the gate watches while it is in flight. */
export interface GateWatch {
  readonly routerId: string;
  /** The fingerprint it should present (may be learnt during the flight: `minion.pub` over SSH). */
  expected(): string | undefined;
  /** The gate's verdict for this tick; return true when the router needs no further checks. */
  onResult(r: GateResult): boolean;
}

export class GateTicker {
  readonly #gate: KeyGate;
  readonly #clock: Clock;
  readonly #everyMs: number;
  readonly #watching = new Map<string, GateWatch>();
  /** Routers in the check under way (their verdict is delivered before `unwatch` resolves). */
  readonly #checking = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> | undefined;

  constructor(gate: KeyGate, clock: Clock, everyMs: number) {
    this.#gate = gate;
    this.#clock = clock;
    this.#everyMs = everyMs;
  }

  /** Watch a router from now until its verdict is final or `unwatch`. */
  watch(w: GateWatch): void {
    this.#watching.set(w.routerId, w);
    this.#arm();
  }

  /** Stop watching; resolves once a check under way for it has delivered its verdict. */
  async unwatch(routerId: string): Promise<void> {
    this.#watching.delete(routerId);
    if (this.#watching.size === 0 && this.#timer) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#checking.has(routerId) && this.#tick) await this.#tick;
  }

  #arm(): void {
    if (this.#timer || this.#tick || this.#watching.size === 0) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#tick = this.#run().finally(() => {
        this.#tick = undefined;
        this.#arm();
      });
    }, this.#everyMs);
  }

  async #run(): Promise<void> {
    const listed = this.#gate.pendingIds ? await this.#gate.pendingIds().catch(() => undefined) : undefined;
    const due: GateWatch[] = [];
    for (const w of this.#watching.values()) if (listed === undefined || listed.has(w.routerId)) due.push(w);
    if (due.length === 0) return;
    for (const w of due) this.#checking.add(w.routerId);
    try {
      const results = await this.#checkAll(due);
      for (const w of due) {
        if (w.onResult(results.get(w.routerId) ?? { state: 'none' })) this.#watching.delete(w.routerId);
      }
    } finally {
      for (const w of due) this.#checking.delete(w.routerId);
    }
  }

  async #checkAll(due: GateWatch[]): Promise<Map<string, GateResult>> {
    const failed = (err: unknown): GateResult => ({
      state: 'failed',
      code: 'KEYS_INVALID',
      message: (err as Error).message,
    });
    const items = due.map((w) => ({ id: w.routerId, expected: w.expected() }));
    if (this.#gate.checkMany) {
      try {
        return await this.#gate.checkMany(items);
      } catch (err) {
        return new Map(items.map((i) => [i.id, failed(err)]));
      }
    }
    const out = new Map<string, GateResult>();
    await Promise.all(
      items.map(async (i) => {
        out.set(i.id, await this.#gate.check(i.id, i.expected).catch(failed));
      }),
    );
    return out;
  }
}
