/**
 * Redaction of anything key-like before it reaches a log line or a report. Private keys are never
 * logged (DESIGN.md trust model, rule 6): this runs on every field of every log record.
 */

/** Field names whose values are always replaced. Matched case-insensitively against the whole name. */
const SECRET_FIELD =
  /(pass(word|phrase)?|secret|token|private|privkey|pem|identity|credential|cookie|authorization|^key$|signingkey|agekey)$/i;

/** Values that look like secrets whatever their field name. */
const SECRET_VALUE = [
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
  /AGE-SECRET-KEY-1[0-9A-Z]+/g,
];

export const REDACTED = '[redacted]';

/** Replace secret-looking substrings of a string. */
export function redactString(value: string): string {
  let out = value;
  for (const re of SECRET_VALUE) out = out.replace(re, REDACTED);
  return out;
}

/** True when a field of this name must never be logged. */
export function isSecretField(name: string): boolean {
  return SECRET_FIELD.test(name);
}

/**
 * Deep copy of `value` with secret fields and secret-looking strings redacted. Cycles and depth are
 * bounded so a log call can never hang or throw.
 */
export function redact(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
  if (seen.has(value) || depth > 8) return '[…]';
  seen.add(value);
  if (value instanceof Error) {
    const e = value as Error & { code?: unknown; details?: unknown };
    return {
      name: e.name,
      message: redactString(e.message),
      ...(e.code !== undefined ? { code: e.code } : {}),
      ...(e.details !== undefined ? { details: redact(e.details, depth + 1, seen) } : {}),
      ...(e.cause !== undefined ? { cause: redact(e.cause, depth + 1, seen) } : {}),
    };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretField(k) && v !== undefined && v !== null && v !== '' ? REDACTED : redact(v, depth + 1, seen);
  }
  return out;
}
