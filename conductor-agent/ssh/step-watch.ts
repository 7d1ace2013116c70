/**
 * Judges the step script's markers (script.ts) as they arrive, the way the step-by-step fallback
 * did: a failing step ends the run with its output as evidence (SSH_COMMAND_FAILED); the minion
 * key read for the gate; then, polled by the script, the minion confirmed only when it is up with
 * the pinned key cached for `settleMs` (fingerprint computed here). A different cached key (the pin
 * refused it) ends the run and is removed by the caller; a minion down twice after the start failed.
 */
import type { Clock } from '../../shared/ports/clock.js';
import { pemFinger } from '../../shared/salt/fingerprint.js';
import type { ChannelResult } from '../fleet/ports.js';
import type { StepEvent } from './script.js';

export type Phase = 'stopping' | 'pinning' | 'confirming';

export class StepWatch {
  readonly timings: Record<string, number> = {};
  readonly evidence: string[] = [];
  minionKeyFingerprint: string | undefined;
  /** Set once the run is decided. */
  verdict: ChannelResult | undefined;
  /** A refused master key the minion cached: the caller removes it. */
  refused: string | undefined;
  phase: Phase = 'stopping';
  #active = false;
  #down = 0;
  #okSince: number | undefined;

  constructor(
    private readonly fingerprint: string,
    private readonly clock: Clock,
    private readonly t0: number,
    private readonly settleMs: number,
    private readonly onMinionKey?: ((fingerprint: string) => void) | undefined,
  ) {}

  step(e: StepEvent): void {
    if (this.verdict) return;
    if (e.name === 'active') this.#active = e.code === 0;
    else if (e.name === 'cached') this.#cached(e);
    else if (e.name === 'readMinionKey') this.#minionKey(e);
    else if (e.name === 'stopped') {
      if (e.code !== 0) return this.fail('SSH_TIMEOUT', 'the minion did not stop');
      this.phase = 'pinning';
      this.timings.stopped = this.#ms();
    } else if (e.code !== 0) {
      this.evidence.push(`${e.name}: exit ${e.code}`, ...tail(e.output));
      this.fail('SSH_COMMAND_FAILED', `step ${e.name} exited ${e.code}: ${tail(e.output).join(' / ')}`);
    } else {
      this.timings[e.name] = this.#ms();
      if (e.name === 'start') this.phase = 'confirming';
    }
  }

  fail(code: string, message: string): void {
    this.verdict ??= { ok: false, code, message, evidence: this.evidence, timings: this.timings };
  }

  /** The outcome, once the script ended or was closed. */
  result(): ChannelResult {
    if (!this.verdict) {
      if (this.phase === 'confirming')
        this.fail('SSH_TIMEOUT', 'the minion did not authenticate with the pinned key in time');
      else this.fail('SSH_COMMAND_FAILED', `the step script ended while ${this.phase} the minion`);
    }
    return { ...this.verdict!, minionKeyFingerprint: this.minionKeyFingerprint };
  }

  #ms(): number {
    return this.clock.now() - this.t0;
  }

  #minionKey(e: StepEvent): void {
    if (e.code !== 0) {
      this.evidence.push(`readMinionKey: exit ${e.code}`, ...tail(e.output));
      return;
    }
    try {
      this.minionKeyFingerprint = pemFinger(e.output);
    } catch {
      /* not a key: the gate has nothing to compare against */
      return;
    }
    this.onMinionKey?.(this.minionKeyFingerprint);
  }

  #cached(e: StepEvent): void {
    let fp: string | undefined;
    try {
      if (e.code === 0 && e.output.trim()) fp = pemFinger(e.output);
    } catch {
      fp = 'unreadable';
    }
    if (fp !== undefined && fp !== this.fingerprint) {
      this.refused = fp;
      const message = `the minion cached another master key (${fp}); it was removed, the pin refused it`;
      return this.fail('REAUTH_FAILED', message);
    }
    this.#down = this.#active ? 0 : this.#down + 1;
    if (this.#down >= 2) return this.fail('REAUTH_FAILED', 'the minion exited after the pinned start');
    const now = this.clock.now();
    if (!this.#active || fp !== this.fingerprint) {
      this.#okSince = undefined;
      return;
    }
    this.#okSince ??= now;
    if (now - this.#okSince >= this.settleMs) {
      this.timings.confirmed = this.#ms();
      this.verdict = { ok: true, timings: this.timings, evidence: this.evidence };
    }
  }
}

export function tail(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(Boolean)
    .slice(-6)
    .map((l) => (l.length > 300 ? `${l.slice(0, 300)}…` : l));
}
