/**
 * The single exit-code table shared by both bins. Only the CLI entry points (`cli/main.ts`) turn
 * these into a process exit; everything else throws a {@link RecoveryError} that names one.
 *
 * Keep README.md ("Exit codes") in step with this table.
 */
export const ExitCode = {
  /** Everything asked for was done. */
  OK: 0,
  /** The operation ran and failed (nothing partial left behind: see the command's docs). */
  FAILED: 1,
  /** Bad command line: unknown option, missing argument. */
  USAGE: 2,
  /** The configuration (file, environment or flags) is invalid or incomplete. */
  CONFIG: 3,
  /** A preflight check refused to start; nothing was changed. */
  PREFLIGHT_REFUSED: 4,
  /** A fleet operation succeeded for some routers and failed for others (see the report). */
  PARTIAL: 5,
  /** Another run holds the lock, or a previous run left a journal that must be resolved first. */
  BUSY: 6,
  /** Verification found a difference (e.g. `backup verify` on a damaged archive). */
  VERIFY_FAILED: 7,
  /** A bug: please report it with the log. */
  INTERNAL: 70,
} as const;

export type ExitCodeName = keyof typeof ExitCode;
export type ExitCodeValue = (typeof ExitCode)[ExitCodeName];
