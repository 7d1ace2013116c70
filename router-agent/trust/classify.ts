/**
 * Pure classification of minion log lines (reference/salt.md §4.2, §4.3, §4.4, §10). Only the
 * trust-relevant lines matter; a line is attributed to its timestamp so events older than the
 * current cached key can be ignored.
 */

export type MinionLogEventKind = 'key-changed' | 'not-authenticated' | 'finger-mismatch' | 'rejected';

export interface MinionLogEvent {
  kind: MinionLogEventKind;
  /** Epoch ms parsed from the line's local timestamp; undefined for continuation lines. */
  at?: number | undefined;
  line: string;
}

const PATTERNS: [MinionLogEventKind, RegExp][] = [
  ['key-changed', /The master key has changed, the salt master could have been subverted/],
  ['not-authenticated', /The Salt Master server's public key did not authenticate!/],
  ['not-authenticated', /SaltClientError: Invalid master key/],
  ['finger-mismatch', /The specified fingerprint in the master configuration file:/],
  ['rejected', /The Salt Master has rejected this minion's public key!/],
];

/** `2026-11-24 11:02:22,257 [...` → epoch ms (the minion logs local time). */
export function lineTime(line: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}),(\d{3}) /.exec(line);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, ms] = m.map(Number) as number[];
  return new Date(y!, mo! - 1, d!, h!, mi!, s!, ms!).getTime();
}

/** The event a line announces, if any. */
export function classifyLine(line: string): MinionLogEvent | undefined {
  for (const [kind, re] of PATTERNS) if (re.test(line)) return { kind, at: lineTime(line), line };
  return undefined;
}

/** Exit status Salt uses after an event (reference §10: mismatch 42, rejected 77). */
export function exitStatusFor(kind: MinionLogEventKind): number | undefined {
  return kind === 'finger-mismatch' ? 42 : kind === 'rejected' ? 77 : undefined;
}
