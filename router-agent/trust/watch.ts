/**
 * Trust watcher: polls the minion's service state, its cached master key, its configured pin and its
 * log, and turns them into a trust state (trust/state.ts). Emits `change` with the new facts when
 * the state changes; `refresh()` answers a request at once. One poll at a time.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { pemFinger } from '../../shared/salt/fingerprint.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { ServiceControl } from '../../shared/ports/service-control.js';
import type { Logger } from '../../shared/log/logger.js';
import type { TrustFacts } from '../../shared/protocol/messages.js';
import { effectiveValues, type MinionConfigPaths } from '../minion/config-files.js';
import { cachedFingerprint, cachedKeyPath } from '../minion/pki.js';
import { pidFilePath, runningMinion } from '../minion/process.js';
import { classifyLine, exitStatusFor, lineTime, type MinionLogEvent } from './classify.js';
import { LogTail } from './log-tail.js';
import { computeTrustState } from './state.js';

export interface TrustWatcherOptions {
  minionId: string;
  config: MinionConfigPaths;
  pkiDir: string;
  logFile: string;
  service: ServiceControl;
  clock: Clock;
  logger: Logger;
  pollMs: number;
  /** Bytes of log history read at start (a stale minion may not have retried recently). */
  backlogBytes?: number;
  /** Folder of the router's sshd host keys (`/etc/ssh`): their fingerprints go in every trust report. */
  sshHostKeyDir?: string | undefined;
}

/** `SHA256:…` of each `ssh_host_*_key.pub` in `dir` (what the SSH fallback pins), sorted. */
export async function sshHostKeyFingerprints(dir: string): Promise<string[]> {
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  const out: string[] = [];
  for (const n of names.filter((x) => /^ssh_host_[a-z0-9]+_key\.pub$/.test(x)).sort()) {
    const blob = (await fsp.readFile(join(dir, n), 'utf8').catch(() => '')).trim().split(/\s+/)[1];
    if (blob && /^[A-Za-z0-9+/=]+$/.test(blob))
      out.push(
        `SHA256:${createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64').replace(/=+$/, '')}`,
      );
  }
  return out;
}

const MAX_EVIDENCE = 24;
/** Log timestamps are truncated to ms; the pid file and key mtimes are not. */
const SLACK_MS = 5;
/** Read from the minion config every poll, in one pass over its files. */
const CONFIG_KEYS = ['master_finger', 'pidfile', 'root_dir'] as const;

interface LoggedEvent extends MinionLogEvent {
  at: number;
  lines: string[];
}

export class TrustWatcher extends EventEmitter {
  readonly #o: TrustWatcherOptions;
  readonly #tail: LogTail;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<TrustFacts> | undefined;
  #facts: TrustFacts;
  #expected: string | undefined;
  #events: LoggedEvent[] = [];
  #lastLineTime = 0;
  #inEvent = false;
  #wasActive: boolean | undefined;
  #activeSince = 0;
  /** Start of the newest minion run seen (pid file mtime, else an observed inactive→active). */
  #lastStart = 0;
  #stopped = false;
  #sshHostKeys: string[] | undefined;

  constructor(options: TrustWatcherOptions) {
    super();
    this.#o = options;
    this.#tail = new LogTail({ path: options.logFile, backlogBytes: options.backlogBytes ?? 64 * 1024 });
    this.#facts = {
      state: 'minion-down',
      minionId: options.minionId,
      minionActive: false,
      evidence: [],
      since: new Date(options.clock.now()).toISOString(),
    };
  }

  /** Initial scan, then poll every `pollMs`. */
  async start(): Promise<TrustFacts> {
    await this.#tail.start();
    if (this.#o.sshHostKeyDir) this.#sshHostKeys = await sshHostKeyFingerprints(this.#o.sshHostKeyDir);
    const f = await this.refresh();
    this.#schedule();
    return f;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) this.#o.clock.clearTimeout(this.#timer);
  }

  /** The last computed facts. */
  facts(): TrustFacts {
    return this.#facts;
  }

  /** The master fingerprint the conductor says is current (from a verified command). */
  setExpected(fingerprint: string | undefined): void {
    this.#expected = fingerprint;
  }

  /** Poll now (joins a poll already running). */
  refresh(): Promise<TrustFacts> {
    this.#running ??= this.#poll().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.refresh()
        .catch((err: unknown) => this.#o.logger.warn('trust poll failed', { err }))
        .finally(() => this.#schedule());
    }, this.#o.pollMs);
    this.#timer.unref?.();
  }

  /** When the running minion started: its pid file, else the inactive→active change we saw. */
  async #observeStart(active: boolean, now: number, pidFile: string): Promise<void> {
    if (active && this.#wasActive === false) this.#activeSince = now;
    this.#wasActive = active;
    const proc = active ? await runningMinion(pidFile).catch(() => undefined) : undefined;
    this.#lastStart = Math.max(this.#lastStart, proc?.startedAt ?? 0, this.#activeSince);
  }

  async #poll(): Promise<TrustFacts> {
    const now = this.#o.clock.now();
    const active = await this.#o.service.isActive().catch(() => false);
    const cfg = await effectiveValues(this.#o.config, CONFIG_KEYS);
    await this.#observeStart(active, now, pidFilePath(cfg.get('pidfile'), cfg.get('root_dir')));
    for (const line of await this.#tail.poll().catch(() => [] as string[])) this.#take(line, now);
    const keyMtime = await fsp.stat(cachedKeyPath(this.#o.pkiDir)).then(
      (st) => st.mtimeMs,
      () => 0,
    );
    const minionKey = await fsp.readFile(join(this.#o.pkiDir, 'minion.pub'), 'utf8').then(
      (t) => {
        try {
          return pemFinger(t);
        } catch {
          return undefined;
        }
      },
      () => undefined,
    );
    const cached = await cachedFingerprint(this.#o.pkiDir);
    const pinned = cfg.get('master_finger');
    // Only what the minion logged after its last start and after the key it now caches counts: a
    // fixed pin must not keep an old mismatch alive (the minion writes the refused key just before
    // logging the mismatch, so that line stays, even when both land in one poll).
    const since = Math.max(keyMtime, this.#lastStart) - SLACK_MS;
    const fresh = this.#events.filter((e) => e.at >= since);
    const ev = fresh.at(-1);
    const state = computeTrustState({
      minionActive: active,
      cachedFingerprint: cached,
      pinnedFingerprint: pinned,
      expectedFingerprint: this.#expected,
      lastEvent: ev?.kind,
    });
    const facts: TrustFacts = {
      state,
      minionId: this.#o.minionId,
      cachedFingerprint: cached,
      pinnedFingerprint: pinned,
      expectedFingerprint: this.#expected,
      minionKeyFingerprint: minionKey,
      ...(this.#sshHostKeys?.length ? { sshHostKeys: this.#sshHostKeys } : {}),
      minionActive: active,
      minionExit: !active && ev ? exitStatusFor(ev.kind) : undefined,
      evidence: fresh.flatMap((e) => e.lines).slice(-MAX_EVIDENCE),
      since: state === this.#facts.state ? this.#facts.since : new Date(now).toISOString(),
    };
    const changed = state !== this.#facts.state;
    this.#facts = facts;
    if (changed) this.emit('change', facts);
    return facts;
  }

  #take(line: string, now: number): void {
    const t = lineTime(line);
    if (t !== undefined) this.#lastLineTime = t;
    const ev = classifyLine(line);
    if (ev) {
      this.#events.push({ ...ev, at: ev.at ?? (this.#lastLineTime || now), lines: [] });
      if (this.#events.length > MAX_EVIDENCE) this.#events.shift();
      this.#inEvent = true;
      this.#push(line);
    } else if (t === undefined && this.#inEvent) {
      this.#push(line); // continuation of a multi-line CRITICAL message
    } else {
      this.#inEvent = false;
    }
  }

  #push(line: string): void {
    const lines = this.#events.at(-1)?.lines;
    if (lines && lines.length < MAX_EVIDENCE) lines.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
  }
}
