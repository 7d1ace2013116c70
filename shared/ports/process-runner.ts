/**
 * Running external commands, always as an argv array and never through a shell (no shell strings
 * built from untrusted input). Command lines that come from configuration are split with
 * {@link splitCommandLine}, which understands quotes but expands nothing.
 */
import { spawn } from 'node:child_process';
import { RecoveryError, UsageError } from '../errors.js';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the command after this many ms (SIGTERM, then SIGKILL 2 s later). */
  timeoutMs?: number;
  input?: string | Buffer;
}

export interface ProcessRunner {
  /** Run `argv[0]` with the rest as arguments; resolves with the outcome whatever the exit status. */
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
}

const MAX_CAPTURE = 1 << 20;

export const systemProcessRunner: ProcessRunner = {
  run(argv, options = {}) {
    return new Promise((resolve, reject) => {
      const [cmd, ...args] = argv;
      if (!cmd) return reject(new UsageError('empty command line'));
      const child = spawn(cmd, args, {
        cwd: options.cwd,
        env: options.env ?? process.env,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        if (stdout.length < MAX_CAPTURE) stdout += d;
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        if (stderr.length < MAX_CAPTURE) stderr += d;
      });
      let killer: NodeJS.Timeout | undefined;
      let hard: NodeJS.Timeout | undefined;
      if (options.timeoutMs) {
        killer = setTimeout(() => {
          child.kill('SIGTERM');
          hard = setTimeout(() => child.kill('SIGKILL'), 2000);
        }, options.timeoutMs);
      }
      child.on('error', (err) => {
        clearTimeout(killer);
        clearTimeout(hard);
        reject(
          new RecoveryError('COMMAND_FAILED', `could not run ${cmd}: ${err.message}`, {
            cause: err,
            details: { argv: [...argv] },
          }),
        );
      });
      child.on('close', (code, signal) => {
        clearTimeout(killer);
        clearTimeout(hard);
        resolve({ code, signal, stdout, stderr });
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input ?? '');
    });
  },
};

/**
 * Split a configured command line into argv: whitespace separates words, single quotes keep text
 * as is, double quotes keep text with `\"` and `\\` escapes, a backslash outside quotes escapes the
 * next character. No variables, globs or operators: this is not a shell.
 */
export function splitCommandLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote === "'") {
      if (ch === "'") quote = null;
      else cur += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = null;
      else if (ch === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) cur += line[++i];
      else cur += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) throw new UsageError(`unterminated ${quote} quote in command line: ${line}`);
  if (inWord) out.push(cur);
  return out;
}
