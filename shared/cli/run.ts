/**
 * The one place where errors become exit codes, shared by both bins. Commands throw
 * RecoveryErrors; commander's own errors (unknown option, missing argument) become USAGE.
 * `bin.ts` is the only caller of `process.exit`.
 */
import { CommanderError, type Command } from 'commander';
import { asRecoveryError, RecoveryError, UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import type { CliIo } from './io.js';

/** Brand shared by every copy of this module (a lazily imported command may hold another copy). */
const EXIT_BRAND = Symbol.for('ssr-recovery.ExitRequest');

/** Thrown by a command that already printed its report and wants a specific exit code (e.g. PARTIAL). */
export class ExitRequest extends Error {
  /** `x instanceof ExitRequest` holds across module copies, as for RecoveryError. */
  static override [Symbol.hasInstance](x: unknown): boolean {
    return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[EXIT_BRAND] === true;
  }

  readonly [EXIT_BRAND] = true;
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

/** Parse `argv` (without node and script) with `program` and return the process exit code. */
export async function runCli(program: Command, argv: readonly string[], io: CliIo): Promise<number> {
  program.exitOverride();
  program.configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  for (const sub of program.commands) applyRecursively(sub, io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ExitCode.OK;
  } catch (err) {
    if (err instanceof ExitRequest) return err.exitCode;
    if (err instanceof CommanderError) {
      // --help and --version are "errors" to commander; they already printed.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        return ExitCode.OK;
      if (err.exitCode === 0) return ExitCode.OK;
      // Commander already printed its message on stderr; under --json stdout still gets one JSON document.
      if (wantsJson(argv)) io.stdout(`${JSON.stringify({ ok: false, error: usageErrorJson(err) }, null, 2)}\n`);
      return ExitCode.USAGE;
    }
    const e = asRecoveryError(err);
    const json = wantsJson(argv);
    if (json) io.stdout(`${JSON.stringify({ ok: false, error: errorJson(e) }, null, 2)}\n`);
    io.stderr(formatError(e));
    return e.exitCode;
  }
}

function applyRecursively(cmd: Command, io: CliIo): void {
  cmd.exitOverride();
  cmd.configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  for (const sub of cmd.commands) applyRecursively(sub, io);
}

function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/** A commander parse error (unknown option, missing argument…) as the USAGE error document. */
function usageErrorJson(err: CommanderError): Record<string, unknown> {
  const e = new UsageError(err.message.replace(/^error:\s*/, ''), {
    details: { reason: err.code.replace(/^commander\./, '') },
    hint: 'Run the command with --help for its usage.',
  });
  return e.toJSON();
}

function errorJson(e: RecoveryError): Record<string, unknown> {
  const out = e.toJSON();
  if (e.code === 'INTERNAL' && e.cause instanceof Error && e.cause.stack) out.stack = e.cause.stack;
  return out;
}

/** Human form: `error [CODE]: message` then `hint: …`. */
export function formatError(e: RecoveryError): string {
  let out = `error [${e.code}]: ${e.message}\n`;
  if (e.hint) out += `  hint: ${e.hint}\n`;
  if (e.code === 'INTERNAL' && e.cause instanceof Error && e.cause.stack) out += `${e.cause.stack}\n`;
  return out;
}

/** Print a command's result: one JSON document with `--json`, else the human text. */
export function printResult(io: CliIo, json: boolean, result: unknown, human: () => string): void {
  if (json) io.stdout(`${JSON.stringify(result, null, 2)}\n`);
  else {
    const text = human();
    if (text) io.stdout(text.endsWith('\n') ? text : `${text}\n`);
  }
}

export { RecoveryError };
