/**
 * The restore pipeline's data: findings, the staged member list, the plan and the report. Pure
 * types only, shared by every restore module and by callers (CLI, drill).
 */
import type { CheckResult } from '../verify/checks.js';

export type FindingLevel = 'ok' | 'warn' | 'fail' | 'skip';

/** One preflight or verification fact, shown to the operator as a list with a verdict. */
export interface Finding {
  /** Stable id (`archive.sha256`, `target.initialised`, `disk.space`, …). */
  check: string;
  level: FindingLevel;
  summary: string;
  /** Error code when `level` is `fail`. */
  code?: string;
  details?: Record<string, unknown>;
}

export type MemberKind = 'file' | 'dir' | 'symlink' | 'hardlink';

/** One member written into staging (system path, after the seed's /svr/salt fix). */
export interface StagedMember {
  /** Absolute system path (`/etc/128technology/global.init`). */
  path: string;
  kind: MemberKind;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch. */
  mtime: number;
  sha256?: string;
  /** Symlink target (as stored) or, for hard links, the system path of the linked member. */
  linkTarget?: string;
  /** A folder the archive does not hold but its members need (created when missing, never changed). */
  implied?: boolean;
}

/** What a restore does to one path under the root. */
export type PlanAction =
  /** Missing on the target: will be created. */
  | 'add'
  /** Present and different (content or mode/owner): will be replaced; the old file is kept until success. */
  | 'replace'
  /** Present and identical: left alone. */
  | 'same'
  /** On the target inside a restored folder but not in the archive: left alone. */
  | 'keep';

export interface PlanEntry {
  path: string;
  kind: MemberKind;
  action: PlanAction;
  /** Size in the archive (for `keep`: the size on disk). */
  size: number;
  /** Size on the target now, when the path exists. */
  currentSize?: number;
  /** True when content differs (files), false when equal, undefined when not comparable. */
  contentDiffers?: boolean;
  /** True when only mode/owner differ. */
  metaDiffers?: boolean;
}

export interface RestorePlan {
  entries: PlanEntry[];
  summary: { add: number; replace: number; same: number; keep: number; bytesToWrite: number };
}

/** The state of one path on the target, as read before planning (input to the pure planner). */
export interface CurrentState {
  kind: MemberKind | 'other';
  size: number;
  mode: number;
  uid: number;
  gid: number;
  sha256?: string;
  linkTarget?: string;
}

export type RestoreStep =
  | 'preflight'
  | 'stage'
  | 'verify'
  | 'stop'
  | 'apply'
  | 'start'
  | 'post-verify'
  | 'rollback'
  | 'done';

export interface RestoreReport {
  ok: boolean;
  /** `dry-run` stops after preflight and planning. */
  mode: 'restore' | 'dry-run' | 'resume' | 'rollback';
  archive?: string;
  root: string;
  /** Whether the archive carried our manifest (false = seed-made, unverified). */
  verified?: boolean;
  /** Fingerprint of the key that signed the archive's manifest (restore/signature-gate.ts). */
  signer?: string;
  node?: string;
  findings: Finding[];
  verdict: 'go' | 'refused' | 'n/a';
  plan?: RestorePlan['summary'];
  planEntries?: PlanEntry[];
  /** System paths written (added or replaced). */
  applied: string[];
  postVerify: CheckResult[];
  rolledBack: boolean;
  /** Milliseconds per step. */
  timings: Partial<Record<RestoreStep, number>>;
  /** Set when the restore failed (after rollback). */
  error?: { code: string; message: string };
  journal?: string;
}
