/**
 * The router-agent registry (DESIGN.md trust model, rule 3): minion id → enrolled agent public key.
 * One JSON file in `agents.stateDir` (0600, written atomically, part of the backup). Writes are
 * queued and applied under a lock to the file's current content, so the daemon and an operator's
 * CLI can both change it; a burst of enrollments is coalesced into one write.
 *
 * A first enrollment comes from a Salt event whose statement the router's accepted minion key
 * signed (registry/enroll-listener.ts). A different key for an enrolled router is kept as
 * `pending` until an operator approves it with its fingerprint: the agent key is what every report
 * is checked against, so it never changes silently. Timers and jitter go through the clock and
 * random ports.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { RecoveryError } from '../../shared/errors.js';
import { acquireLock } from '../../shared/fs/lock.js';
import { ensureDir, writeFileAtomic, PRIVATE_DIR_MODE } from '../../shared/fs/atomic.js';
import { keyFingerprint, loadPublicKey } from '../../shared/protocol/signing-keys.js';
import { systemClock, type Clock } from '../../shared/ports/clock.js';
import { systemRandom, type Random } from '../../shared/ports/random.js';

export const REGISTRY_FILE = 'agent-registry.json';

export type EnrollSource = 'salt-event' | 'operator';

export interface PendingKey {
  agentPublicKey: string;
  fingerprint: string;
  seenAt: string;
  source: EnrollSource;
}

export interface RegistryEntry {
  minionId: string;
  agentPublicKey: string;
  fingerprint: string;
  agentVersion?: string | undefined;
  source: EnrollSource;
  enrolledAt: string;
  /** Last time the key was announced again. */
  seenAt: string;
  /** A different key announced for this router, waiting for operator approval. */
  pending?: PendingKey | undefined;
  /** `issuedAt` of the newest signed enrollment statement accepted (older ones are replays). */
  lastStatementAt?: number | undefined;
  /**
   * Facts from the router's last signed trust report, kept for a disaster: its minion key
   * fingerprint (the key gate) and its sshd host key fingerprints (the SSH fallback's pins).
   */
  reported?: ReportedFacts | undefined;
}

export interface ReportedFacts {
  minionKeyFingerprint?: string | undefined;
  sshHostKeys?: string[] | undefined;
  at?: string | undefined;
}

export interface RegistryDoc {
  version: 1;
  routers: Record<string, RegistryEntry>;
}

export type EnrollResult = 'enrolled' | 'unchanged' | 'pending-approval' | 'replayed';

export interface EnrollMeta {
  source: EnrollSource;
  agentVersion?: string | undefined;
  /** `issuedAt` of the signed statement: one not newer than the last accepted is refused as a replay. */
  issuedAt?: number | undefined;
}

type Mutation = { apply: (doc: RegistryDoc) => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void };

export interface RegistryOptions {
  clock?: Clock;
  /** Jitter while waiting for the lock. */
  random?: Random;
  /** Coalescing delay for queued writes (ms; default 50). */
  flushDelayMs?: number;
  /** Lock file (default `<file>.lock`); the daemon keeps it in /run so backups never hold one. */
  lockFile?: string;
}

export class AgentRegistry {
  readonly file: string;
  #doc: RegistryDoc = { version: 1, routers: {} };
  /** The on-disk version this copy was read from or last written as (see versionOf); '' when unknown. */
  #version = '';
  #queue: Mutation[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #delay: number;
  readonly #lockFile: string;
  readonly #reported = new Map<string, Omit<ReportedFacts, 'at'>>();
  #reportedFlush: Promise<boolean> | undefined;

  private constructor(file: string, o: RegistryOptions) {
    this.file = file;
    this.#clock = o.clock ?? systemClock;
    this.#random = o.random ?? systemRandom;
    this.#delay = o.flushDelayMs ?? 50;
    this.#lockFile = o.lockFile ?? `${file}.lock`;
  }

  /** Open (and read) the registry in `stateDir`. */
  static async open(stateDir: string, options: RegistryOptions = {}): Promise<AgentRegistry> {
    await ensureDir(stateDir, PRIVATE_DIR_MODE);
    const r = new AgentRegistry(join(stateDir, REGISTRY_FILE), options);
    await r.refresh();
    return r;
  }

  /**
   * Re-read the file if another process changed it. Callers arriving while a check runs share the
   * next one (never the running one, which may have looked before their change): 1,000 hellos at
   * once cost two `stat`s, not 1,000.
   */
  refresh(): Promise<void> {
    if (this.#queued) return this.#queued;
    if (this.#running) {
      this.#queued = this.#running
        .catch(() => undefined)
        .then(() => {
          this.#queued = undefined;
          return this.#startRefresh();
        });
      return this.#queued;
    }
    return this.#startRefresh();
  }

  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;

  #startRefresh(): Promise<void> {
    const p: Promise<void> = this.#refreshOnce().finally(() => {
      if (this.#running === p) this.#running = undefined;
    });
    this.#running = p;
    return p;
  }

  async #refreshOnce(): Promise<void> {
    let st;
    try {
      st = await fsp.stat(this.file);
    } catch {
      return;
    }
    if (versionOf(st) === this.#version) return;
    this.#doc = await this.#read();
    this.#version = versionOf(st);
  }

  get(minionId: string): RegistryEntry | undefined {
    return Object.hasOwn(this.#doc.routers, minionId) ? this.#doc.routers[minionId] : undefined;
  }

  list(): RegistryEntry[] {
    return Object.values(this.#doc.routers).sort((a, b) => a.minionId.localeCompare(b.minionId));
  }

  /** Record an announced key. A new router is enrolled; a changed key waits for approval. */
  enroll(minionId: string, agentPublicKey: string, meta: EnrollMeta): Promise<EnrollResult> {
    const fingerprint = keyFingerprint(loadPublicKey(agentPublicKey, `agent key of ${minionId}`));
    return this.#mutate((doc): EnrollResult => {
      const now = new Date(this.#clock.now()).toISOString();
      const cur = Object.hasOwn(doc.routers, minionId) ? doc.routers[minionId] : undefined;
      const at = meta.issuedAt;
      if (!cur) {
        doc.routers[minionId] = {
          minionId,
          agentPublicKey,
          fingerprint,
          agentVersion: meta.agentVersion,
          source: meta.source,
          enrolledAt: now,
          seenAt: now,
          lastStatementAt: at,
        };
        return 'enrolled';
      }
      if (at !== undefined && cur.lastStatementAt !== undefined && at <= cur.lastStatementAt) return 'replayed';
      if (at !== undefined) cur.lastStatementAt = at;
      if (cur.fingerprint === fingerprint) {
        cur.seenAt = now;
        if (meta.agentVersion) cur.agentVersion = meta.agentVersion;
        if (cur.pending?.fingerprint === fingerprint) cur.pending = undefined;
        return 'unchanged';
      }
      cur.pending = { agentPublicKey, fingerprint, seenAt: now, source: meta.source };
      return 'pending-approval';
    }) as Promise<EnrollResult>;
  }

  /**
   * Operator approval of a pending key change. The operator names the fingerprint they checked
   * out of band (e.g. `router-agent status` on the router): a key announced after they looked can
   * never be approved by accident.
   */
  approve(minionId: string, expectedFingerprint: string): Promise<RegistryEntry> {
    const expected = typeof expectedFingerprint === 'string' ? expectedFingerprint.trim().toLowerCase() : '';
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){31}$/.test(expected)) {
      const what = "approving a changed agent key needs --fingerprint with the new key's fingerprint";
      return Promise.reject(
        new RecoveryError('USAGE', `${what} (64 hex digits in colon pairs)`, {
          details: { router: minionId },
          hint:
            'Read it on the router (router-agent status --json) and in `conductor-agent fleet --json` ' +
            '(pendingKey), compare them, then pass it.',
        }),
      );
    }
    return this.#mutate((doc) => {
      const cur = Object.hasOwn(doc.routers, minionId) ? doc.routers[minionId] : undefined;
      if (!cur?.pending) {
        throw new RecoveryError('AGENT_NOT_ENROLLED', `router ${minionId} has no pending agent key to approve`, {
          details: { router: minionId },
        });
      }
      if (cur.pending.fingerprint !== expected) {
        throw new RecoveryError(
          'AGENT_KEY_CHANGED',
          `the pending key of ${minionId} is ${cur.pending.fingerprint}, not ${expectedFingerprint}`,
          { details: { router: minionId } },
        );
      }
      const { pending } = cur;
      const next: RegistryEntry = {
        ...cur,
        agentPublicKey: pending.agentPublicKey,
        fingerprint: pending.fingerprint,
        source: 'operator',
        enrolledAt: new Date(this.#clock.now()).toISOString(),
        pending: undefined,
      };
      doc.routers[minionId] = next;
      return next;
    }) as Promise<RegistryEntry>;
  }

  /**
   * Keep the facts of a verified trust report (only when they changed: a fleet's steady reports
   * cost no writes). Unknown routers are ignored: facts hang off an enrolled key.
   */
  recordReported(minionId: string, facts: Omit<ReportedFacts, 'at'>): Promise<boolean> | undefined {
    const cur = this.get(minionId);
    if (!cur || sameFacts(cur.reported, facts) || sameFacts(this.#reported.get(minionId), facts)) return undefined;
    // A fleet reconnecting reports thousands of these at once: one registry write for all of them
    // every second, or every 0.5 ms per enrolled router when that is longer (up to 10 s): each
    // write is the whole file, so at 10,000 routers one a second was 8 MB of JSON a second.
    this.#reported.set(minionId, facts);
    this.#reportedFlush ??= new Promise<void>((resolve) =>
      setTimeout(resolve, Math.min(10_000, Math.max(1000, Object.keys(this.#doc.routers).length / 2))),
    ).then(() => {
      const batch = new Map(this.#reported);
      this.#reported.clear();
      this.#reportedFlush = undefined;
      return this.#mutate((doc) => {
        const at = new Date(this.#clock.now()).toISOString();
        for (const [id, f] of batch) {
          const e = Object.hasOwn(doc.routers, id) ? doc.routers[id] : undefined;
          if (e) e.reported = { ...f, at };
        }
        return true;
      }) as Promise<boolean>;
    });
    return this.#reportedFlush;
  }

  /** Forget a router (decommissioned). */
  remove(minionId: string): Promise<boolean> {
    return this.#mutate((doc) => {
      const had = Object.hasOwn(doc.routers, minionId);
      delete doc.routers[minionId];
      return had;
    }) as Promise<boolean>;
  }

  /** Wait for queued writes. */
  async flush(): Promise<void> {
    if (this.#reportedFlush) await this.#reportedFlush;
    if (this.#timer) {
      this.#clearTimer();
      await this.#runFlush();
    }
    await this.#flushing;
  }

  #clearTimer(): void {
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #mutate(apply: (doc: RegistryDoc) => unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ apply, resolve, reject });
      this.#timer ??= this.#clock.setTimeout(() => {
        this.#timer = undefined;
        void this.#runFlush();
      }, this.#delay);
    });
  }

  async #runFlush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    const batch = this.#queue.splice(0);
    if (batch.length === 0) return;
    this.#flushing = (async () => {
      let lock;
      try {
        lock = await this.#lock();
      } catch (err) {
        for (const m of batch) m.reject(err);
        return;
      }
      try {
        // Unchanged on disk since we last read or wrote it: change the copy in memory. Re-parsing
        // thousands of entries for every batch (a fleet reconnecting reports once a second) was the
        // daemon's largest garbage source at 10,000 agents.
        const st = await fsp.stat(this.file).catch(() => undefined);
        const doc = st && versionOf(st) === this.#version ? this.#doc : await this.#read();
        const results = batch.map((m) => {
          try {
            return { ok: true as const, v: m.apply(doc) };
          } catch (err) {
            return { ok: false as const, err };
          }
        });
        await writeFileAtomic(this.file, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
        this.#doc = doc;
        this.#version = versionOf(await fsp.stat(this.file));
        batch.forEach((m, i) => {
          const r = results[i]!;
          if (r.ok) m.resolve(r.v);
          else m.reject(r.err);
        });
      } catch (err) {
        // Nothing was written: what is in memory goes back to what is on disk.
        this.#doc = await this.#read().catch(() => this.#doc);
        this.#version = '';
        for (const m of batch) m.reject(err);
      } finally {
        await lock.release();
      }
    })().finally(() => {
      this.#flushing = undefined;
    });
    await this.#flushing;
  }

  /** The registry lock; another writer (the daemon, an operator's CLI) holds it only briefly, so wait. */
  async #lock(): Promise<{ release(): Promise<void> }> {
    const deadline = this.#clock.now() + 10_000;
    for (;;) {
      try {
        return await acquireLock(this.#lockFile, { purpose: 'agent registry update' });
      } catch (err) {
        if (!(err instanceof RecoveryError) || err.code !== 'LOCK_HELD' || this.#clock.now() > deadline) throw err;
        await this.#clock.sleep(5 + this.#random.float() * 20);
      }
    }
  }

  async #read(): Promise<RegistryDoc> {
    let text: string;
    try {
      text = await fsp.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, routers: {} };
      throw err;
    }
    try {
      const doc = JSON.parse(text) as RegistryDoc;
      if (doc.version !== 1 || typeof doc.routers !== 'object' || doc.routers === null)
        throw new Error('unknown registry format');
      return doc;
    } catch (err) {
      throw new RecoveryError(
        'FS_UNREADABLE',
        `${this.file} is not a readable agent registry: ${(err as Error).message}`,
        {
          cause: err,
          details: { path: this.file },
          hint: 'Restore it from the latest backup; never edit it by hand while the daemon runs.',
        },
      );
    }
  }
}

function sameFacts(a: ReportedFacts | undefined, b: Omit<ReportedFacts, 'at'>): boolean {
  return (
    a?.minionKeyFingerprint === b.minionKeyFingerprint &&
    (a?.sshHostKeys ?? []).join(',') === (b.sshHostKeys ?? []).join(',')
  );
}

/**
 * One version of the registry file. Every write is a new file renamed into place, so the inode
 * tells writes apart; the modification time alone does not (the kernel stamps files from a coarse
 * clock: two writes by two processes within a few milliseconds carry the same mtime, and the
 * other writer's change was lost).
 */
function versionOf(st: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}
