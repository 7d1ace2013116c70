/**
 * Pure retention: which backups to keep and which to delete, restic-style. A backup is kept when
 * any rule keeps it: the newest `last`; the newest of each of the newest `daily` UTC days that have
 * backups; the newest of each of the newest `weekly` ISO weeks. Each host-node pair is judged on its
 * own, so one node's backups never push out the other's in a shared folder.
 */
import { UsageError } from '../../shared/errors.js';

export interface RetentionPolicy {
  last: number;
  daily: number;
  weekly: number;
}

export interface RetentionItem {
  name: string;
  createdAt: Date;
  /** Backups are grouped by this (host-node from the name). */
  group: string;
}

export interface RetentionDecision {
  name: string;
  keep: boolean;
  /** Why it is kept (`last`, `daily 2026-11-24`, `weekly 2026-W48`), empty when deleted. */
  reasons: string[];
}

/** `2026-11-24` (UTC). */
function dayKey(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** ISO 8601 week, `2026-W48` (UTC). */
export function isoWeekKey(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/** Refuse a policy that keeps nothing: a typo must not delete every backup. */
export function checkPolicy(p: RetentionPolicy): void {
  for (const [k, v] of Object.entries(p)) {
    if (!Number.isInteger(v) || v < 0) throw new UsageError(`--keep-${k} must be a whole number ≥ 0 (got ${v})`);
  }
  if (p.last + p.daily + p.weekly === 0) {
    throw new UsageError('the retention policy keeps nothing (--keep-last, --keep-daily and --keep-weekly are all 0)', {
      hint: 'Keep at least one backup: e.g. --keep-last 1.',
    });
  }
}

/** Decide for every item; newest first in the result. */
export function planRetention(items: readonly RetentionItem[], policy: RetentionPolicy): RetentionDecision[] {
  checkPolicy(policy);
  const groups = new Map<string, RetentionItem[]>();
  for (const it of items) groups.set(it.group, [...(groups.get(it.group) ?? []), it]);
  const out: RetentionDecision[] = [];
  for (const list of groups.values()) {
    const sorted = [...list].sort(
      (a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.name.localeCompare(a.name),
    );
    const reasons = new Map<string, string[]>(sorted.map((it) => [it.name, []]));
    for (const it of sorted.slice(0, policy.last)) reasons.get(it.name)!.push('last');
    const bucket = (n: number, key: (d: Date) => string, label: string): void => {
      const seen = new Set<string>();
      for (const it of sorted) {
        if (seen.size >= n) break;
        const k = key(it.createdAt);
        if (seen.has(k)) continue;
        seen.add(k);
        reasons.get(it.name)!.push(`${label} ${k}`);
      }
    };
    bucket(policy.daily, dayKey, 'daily');
    bucket(policy.weekly, isoWeekKey, 'weekly');
    for (const it of sorted) {
      const r = reasons.get(it.name)!;
      out.push({ name: it.name, keep: r.length > 0, reasons: r });
    }
  }
  return out;
}
