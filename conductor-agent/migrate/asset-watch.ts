/**
 * One poller per conductor serves every router waiting on it: a single GraphQL assets query per poll
 * interval, however many routers are in flight (2,000 routers must not mean 2,000 queries a second).
 * A failed poll (the API going away) keeps the last answer and counts; waiters time out on their own.
 */
import { RecoveryError } from '../../shared/errors.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { AssetState, SsrConductor } from '../ssr/conductor.js';

interface Waiter {
  router: string;
  done: (assets: AssetState[]) => boolean;
  deadline: number;
  resolve: (assets: AssetState[]) => void;
  reject: (err: Error) => void;
  stage: string;
}

export class AssetWatch {
  private byRouter = new Map<string, AssetState[]>();
  private waiters = new Set<Waiter>();
  private running = false;
  private lastError: Error | undefined;
  private fresh: Promise<void> | undefined;

  constructor(
    private readonly ssr: SsrConductor,
    private readonly clock: Clock,
    private readonly pollMs: number,
    readonly label: string,
  ) {}

  /** The assets of `router` in the last answer (empty when the conductor does not list it). */
  seen(router: string): AssetState[] {
    return this.byRouter.get(router) ?? [];
  }

  /** Poll now (once, shared by concurrent callers). */
  refresh(): Promise<void> {
    this.fresh ??= this.poll().finally(() => {
      this.fresh = undefined;
    });
    return this.fresh;
  }

  /** Resolve with the router's assets once `done` holds for them; reject (with evidence) at the deadline. */
  waitFor(
    router: string,
    stage: string,
    timeoutMs: number,
    done: (assets: AssetState[]) => boolean,
  ): Promise<AssetState[]> {
    return new Promise((resolve, reject) => {
      this.waiters.add({ router, done, deadline: this.clock.now() + timeoutMs, resolve, reject, stage });
      if (!this.running) void this.loop();
    });
  }

  private async poll(): Promise<void> {
    try {
      const assets = await this.ssr.assets();
      const next = new Map<string, AssetState[]>();
      for (const a of assets) {
        const list = next.get(a.routerName) ?? [];
        list.push(a);
        next.set(a.routerName, list);
      }
      this.byRouter = next;
      this.lastError = undefined;
    } catch (err) {
      this.lastError = err as Error;
    }
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.waiters.size > 0) {
        await this.refresh();
        this.settle();
        if (this.waiters.size > 0) await this.clock.sleep(this.pollMs);
      }
    } finally {
      this.running = false;
    }
  }

  private settle(): void {
    const now = this.clock.now();
    for (const w of [...this.waiters]) {
      const assets = this.seen(w.router);
      if (assets.length > 0 && w.done(assets)) {
        this.waiters.delete(w);
        w.resolve(assets);
      } else if (now >= w.deadline) {
        this.waiters.delete(w);
        const states = assets.map((a) => `${a.nodeName}=${a.status}`).join(', ') || 'not listed';
        w.reject(
          new RecoveryError(
            'MIGRATE_ROUTER_FAILED',
            `router ${w.router} did not reach ${w.stage} on the ${this.label} conductor in time (${states})`,
            {
              details: {
                router: w.router,
                stage: w.stage,
                conductor: this.label,
                assets,
                ...(this.lastError ? { apiError: this.lastError.message } : {}),
              },
              hint: 'Look at `show assets errors` on that conductor; re-run with --resume to retry the router.',
            },
          ),
        );
      }
    }
  }
}

/**
 * Starts at `rate` per second on average: each start takes the next slot, 1/rate after the previous
 * one. A start that comes late (a busy event loop) does not push every later slot back — the next
 * ones catch up — but no more than one second's worth, so there is never a burst above that.
 */
export function rateGate(rate: number, clock: Clock): () => Promise<void> {
  const spacing = 1000 / rate;
  let next = clock.now();
  return async () => {
    const now = clock.now();
    let slot = next;
    if (slot < now - 1000) slot = now - 1000 + spacing;
    next = slot + spacing;
    if (slot > now) await clock.sleep(slot - now);
  };
}
