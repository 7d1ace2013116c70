/** Shapes shared by the migrate modules: arguments, journal records, per-router outcomes, the report. */
import type { CheckResult } from '../verify/checks.js';

export interface MigrateArgs {
  /** New conductor address(es): one, or two for an HA pair. */
  to: string[];
  /** Old conductor address(es) (default: the conductor hosts in this conductor's global.init). */
  from: string[];
  /** Glob over router names (`*` and `?`); default every router. */
  routers?: string | undefined;
  /** Routers started per second. */
  rate: number;
  dryRun: boolean;
  resume: boolean;
  rollbackOnFailure: boolean;
}

export type TrustMode = 'same-key' | 'repin';

/** Phases written to the journal, in order; `SSR_RECOVERY_MIGRATE_FAULT` names one to kill -9 after. */
export const RUN_PHASES = [
  'started',
  'backup-ready',
  'config-exported',
  'config-transferred',
  'config-imported',
  'config-committed',
  'trust-checked',
  'verified',
  'finished',
] as const;
export const ROUTER_PHASES = [
  'router-migrating',
  'router-connected',
  'router-repinning',
  'router-repinned',
  'router-key-accepted',
  'router-running',
  'router-done',
  'router-failed',
  'router-rolling-back',
  'router-rolled-back',
] as const;
export type RunPhase = (typeof RUN_PHASES)[number];
export type RouterPhase = (typeof ROUTER_PHASES)[number];

export type JournalRecord =
  | { t: 'run'; phase: RunPhase; at: number; data?: Record<string, unknown> }
  | { t: 'router'; phase: RouterPhase; router: string; at: number; data?: Record<string, unknown> };

export type RouterOutcome = 'migrated' | 'skipped' | 'failed' | 'rolled-back';

export interface RouterResult {
  router: string;
  outcome: RouterOutcome;
  /** ms from the migrate command to each stage, and in all. */
  timings: { connectedMs?: number; runningMs?: number; totalMs?: number };
  /** Minion keys gated on the new master: id → how. */
  keys?: Record<string, string>;
  error?: { code: string; message: string; evidence?: Record<string, unknown> };
  rollback?: { ok: boolean; message?: string };
}

export interface Finding {
  check: string;
  ok: boolean;
  message: string;
  details?: Record<string, unknown>;
}

export interface ConfigDiff {
  /** `authority conductor-address` on the new conductor, before → after. */
  conductorAddress: { before: string[]; after: string[] };
  /** Routers the import adds to the new conductor. */
  addRouters: string[];
  /** Routers the new conductor already has (left as imported). */
  presentRouters: string[];
}

export interface MigrateReport {
  ok: boolean;
  dryRun: boolean;
  resumed: boolean;
  from: string[];
  to: string[];
  findings: Finding[];
  trust?: { mode: TrustMode; oldFingerprint: string; newFingerprint: string; how: string } | undefined;
  backup?: Record<string, unknown> | undefined;
  config?: { diff: ConfigDiff; exportName?: string; committed: boolean } | undefined;
  routers: RouterResult[];
  totals: { routers: number; migrated: number; skipped: number; failed: number; rolledBack: number };
  verify?: CheckResult[] | undefined;
  /** Configured rate and what was achieved (routers started per second). */
  rate: { configured: number; achieved?: number | undefined };
  durationMs: number;
}
