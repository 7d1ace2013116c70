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
import { effectiveValue, type MinionConfigPaths } from '../minion/config-files.js';
import { cachedFingerprint, cachedKeyPath } from '../minion/pki.js';
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
    if (blob && /^[A-Za-z0-9+/=]+$/.test(blob)) out.push('SHA256:' + createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64').replace(/=+$/, ''));
  }
  return out;
}

const MAX_EVIDENCE = 24;

export class TrustWatcher extends EventEmitter {
  readonly #o: TrustWatcherOptions;
  readonly #tail: LogTail;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<TrustFacts> | undefined;
  #facts: TrustFacts;
  #expected: string | undefined;
  #lastEvent: MinionLogEvent | undefined;
  #lastLineTime = 0;
  #evidence: string[] = [];
  #inEvent = false;
  #wasActive: boolean | undefined;
  #activeSince = 0;
  #keyMtime = 0;
  #lastCached: string | undefined | null = null;
  #stopped = false;
  #sshHostKeys: string[] | undefined;

  constructor(options: TrustWatcherOptions) {
    super();
    this.#o = options;
    this.#tail = new LogTail({ path: options.logFile, backlogBytes: options.backlogBytes ?? 64 * 1024 });
    this.#facts = { state: 'minion-down', minionId: options.minionId, minionActive: false, evidence: [], since: new Date(options.clock.now()).toISOString() };
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

  /** The master fingerprint the conductor says is current (from a verified status command). */
  setExpected(fingerprint: string | undefined): void {
    this.#expected = fingerprint;
  }

  /** Poll now (joins a poll already running). */
  refresh(): Promise<TrustFacts> {
    this.#running ??= this.#poll().finally(() => { this.#running = undefined; });
    return this.#running;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.refresh().catch((err: unknown) => this.#o.logger.warn('trust poll failed', { err })).finally(() => this.#schedule());
    }, this.#o.pollMs);
    this.#timer.unref?.();
  }

  async #poll(): Promise<TrustFacts> {
    const now = this.#o.clock.now();
    const active = await this.#o.service.isActive().catch(() => false);
    if (active && this.#wasActive === false) this.#activeSince = now;
    this.#wasActive = active;
    for (const line of await this.#tail.poll().catch(() => [] as string[])) this.#take(line, now);
    try {
      this.#keyMtime = (await fsp.stat(cachedKeyPath(this.#o.pkiDir))).mtimeMs;
    } catch {
      this.#keyMtime = 0;
    }
    const minionKey = await fsp.readFile(join(this.#o.pkiDir, 'minion.pub'), 'utf8').then((t) => {
      try {
        return pemFinger(t);
      } catch {
        return undefined;
      }
    }, () => undefined);
    const cached = await cachedFingerprint(this.#o.pkiDir);
    if (cached !== this.#lastCached) {
      // A different key (or none): errors logged about the previous one no longer apply.
      if (this.#lastCached !== null) this.#lastEvent = undefined;
      this.#lastCached = cached;
    }
    const pinned = (await effectiveValue(this.#o.config, 'master_finger'))?.value;
    // A log event counts only if newer than the cached key and the last start we saw.
    const ev = this.#lastEvent;
    // The minion writes the key before logging about it; a few ms of slack cover timestamp truncation.
    const fresh = ev && (ev.at ?? 0) >= Math.max(this.#keyMtime, this.#activeSince) - 5 ? ev : undefined;
    const state = computeTrustState({ minionActive: active, cachedFingerprint: cached, pinnedFingerprint: pinned, expectedFingerprint: this.#expected, lastEvent: fresh?.kind });
    const facts: TrustFacts = {
      state,
      minionId: this.#o.minionId,
      cachedFingerprint: cached,
      pinnedFingerprint: pinned,
      expectedFingerprint: this.#expected,
      minionKeyFingerprint: minionKey,
      ...(this.#sshHostKeys?.length ? { sshHostKeys: this.#sshHostKeys } : {}),
      minionActive: active,
      minionExit: !active && fresh ? exitStatusFor(fresh.kind) : undefined,
      evidence: fresh ? [...this.#evidence] : [],
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
      ev.at ??= this.#lastLineTime || now;
      this.#lastEvent = ev;
      this.#inEvent = true;
      this.#push(line);
    } else if (t === undefined && this.#inEvent) {
      this.#push(line); // continuation of a multi-line CRITICAL message
    } else {
      this.#inEvent = false;
    }
  }

  #push(line: string): void {
    this.#evidence.push(line.length > 400 ? line.slice(0, 400) + '…' : line);
    if (this.#evidence.length > MAX_EVIDENCE) this.#evidence.splice(0, this.#evidence.length - MAX_EVIDENCE);
  }
}
