/**
 * Structured JSON-line logging with redaction. Library layers take a {@link Logger} as an argument
 * (or emit events); only composition roots (CLI, daemons) decide where lines go. A child logger per
 * component carries context (`{component: 'backup'}`) on every line.
 */
import { redact, redactString } from './redact.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `bindings` to every line. */
  child(bindings: Record<string, unknown>): Logger;
  readonly level: LogLevel;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; defaults to stderr so `--json` stdout stays one clean document. */
  write?: (line: string) => void;
  /** Clock for timestamps (injected in tests). */
  now?: () => Date;
  bindings?: Record<string, unknown>;
}

export function isLogLevel(v: unknown): v is LogLevel {
  return typeof v === 'string' && v in RANK;
}

/** Create a JSON-lines logger. Every field is redacted before it is serialised. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const now = options.now ?? (() => new Date());
  const bindings = options.bindings ?? {};
  const emit = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>): void => {
    if (RANK[lvl] < RANK[level]) return;
    const record = { time: now().toISOString(), level: lvl, ...bindings, msg: redactString(msg), ...(fields ?? {}) };
    let line: string;
    try {
      line = JSON.stringify(redact(record));
    } catch {
      line = JSON.stringify({
        time: record.time,
        level: lvl,
        msg: redactString(msg),
        logError: 'unserialisable fields',
      });
    }
    write(`${line}\n`);
  };
  return {
    level,
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (more) => createLogger({ level, write, now, bindings: { ...bindings, ...more } }),
  };
}

/** A logger that drops everything (default for library code called without one). */
export const nullLogger: Logger = createLogger({ level: 'silent' });
