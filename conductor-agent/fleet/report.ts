/**
 * The wave's report: per router the channel, timings, outcome and the evidence for a failure;
 * totals by outcome; the exit code (0 all done, 5 some done and some not, 1 none done). The JSON
 * form names the conductor and the master fingerprint, so reports from several conductors merge.
 */
import { ExitCode } from '../../shared/exit-codes.js';
import type { ChannelKind, PlanEntry } from './plan.js';

export type OutcomeState = 'done' | 'skipped' | 'failed' | 'impostor' | 'blocked' | 'not-started';

export interface RouterOutcome {
  routerId: string;
  state: OutcomeState;
  /** The channel that did the work (or was last tried). */
  channel?: ChannelKind | 'none' | undefined;
  /** Stable error code for failed/impostor/blocked. */
  code?: string | undefined;
  message?: string | undefined;
  /** Minion log lines or command output behind a failure (capped). */
  evidence?: string[] | undefined;
  /** Milliseconds since the router's start: command, accepted, pinged, … */
  timings?: Record<string, number> | undefined;
  /** The minion key the gate accepted (or refused). */
  minionKeyFingerprint?: string | undefined;
  /** Channels tried before the one that worked, with why they failed. */
  fallbacks?: { channel: string; code: string; message: string }[] | undefined;
  startedAt?: string | undefined;
  finishedAt?: string | undefined;
}

export interface WaveReport {
  ok: boolean;
  dryRun: boolean;
  conductor: { id: string; agentKey?: string | undefined };
  masterFingerprint: string;
  waveId: string;
  resumed: boolean;
  interrupted: boolean;
  totals: Record<OutcomeState, number> & { routers: number };
  /** Achieved start rate (routers started per second) and the limit asked for (0 = none). */
  rate: { limit: number; achieved: number | null; concurrency: number };
  elapsedMs: number;
  routers: RouterOutcome[];
  plan?: PlanEntry[] | undefined;
}

export function emptyTotals(): WaveReport['totals'] {
  return { routers: 0, done: 0, skipped: 0, failed: 0, impostor: 0, blocked: 0, 'not-started': 0 };
}

export function totalsOf(outcomes: readonly RouterOutcome[]): WaveReport['totals'] {
  const t = emptyTotals();
  for (const o of outcomes) {
    t.routers++;
    t[o.state]++;
  }
  return t;
}

/** 0 when every selected router is done (or was already), 1 when none was brought back, else 5. */
export function waveExitCode(t: WaveReport['totals']): number {
  const bad = t.failed + t.impostor + t.blocked + t['not-started'];
  if (bad === 0) return ExitCode.OK;
  return t.done > 0 ? ExitCode.PARTIAL : ExitCode.FAILED;
}

/** Human report. */
export function renderReport(r: WaveReport): string {
  const t = r.totals;
  const achieved = r.rate.achieved === null ? '-' : r.rate.achieved.toFixed(1);
  const interrupted = ' (interrupted: in-flight routers finished, the rest not started; --resume continues)';
  const head =
    `reauth wave ${r.waveId} on ${r.conductor.id}` +
    (r.resumed ? ' (resumed)' : '') +
    (r.interrupted ? interrupted : '');
  const lines = [
    head,
    `  pinned to ${r.masterFingerprint}`,
    `  ${t.routers} routers: ${t.done} done, ${t.skipped} skipped, ${t.failed} failed, ` +
      `${t.impostor} possible impostors, ${t.blocked} blocked, ${t['not-started']} not started`,
    `  ${(r.elapsedMs / 1000).toFixed(1)} s; start rate ${achieved}/s ` +
      `(limit ${r.rate.limit || 'none'}, concurrency ${r.rate.concurrency})`,
  ];
  for (const o of r.routers) {
    if (o.state === 'done' || o.state === 'skipped') continue;
    lines.push(
      `  ${o.routerId}: ${o.state.toUpperCase()} via ${o.channel ?? 'none'}${o.code ? ` [${o.code}]` : ''} ` +
        `${o.message ?? ''}`.trimEnd(),
    );
    for (const f of o.fallbacks ?? []) lines.push(`    tried ${f.channel}: [${f.code}] ${f.message}`);
    for (const e of (o.evidence ?? []).slice(-8)) lines.push(`    | ${e}`);
  }
  return `${lines.join('\n')}\n`;
}
