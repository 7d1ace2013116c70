/**
 * Typed errors with stable codes. Every failure the product reports carries one `code` from
 * {@link ErrorCodes}; tests assert codes, never message text. The code also decides the exit code
 * (one table, {@link ErrorCodes}), so `cli/main.ts` maps errors to exits in one place.
 *
 * Add a code: put it in the table below with its exit code and a one-line meaning, and list it in
 * docs/errors.md. Never reuse or rename a published code.
 */
import { ExitCode, type ExitCodeValue } from './exit-codes.js';

interface CodeSpec {
  readonly exit: ExitCodeValue;
  readonly meaning: string;
}

const c = (exit: ExitCodeValue, meaning: string): CodeSpec => ({ exit, meaning });

/** Every stable error code, its exit code and what it means. */
export const ErrorCodes = {
  // usage / config
  USAGE: c(ExitCode.USAGE, 'The command line is wrong (unknown option, missing argument).'),
  CONFIG_INVALID: c(ExitCode.CONFIG, 'A configuration value is invalid.'),
  CONFIG_UNREADABLE: c(ExitCode.CONFIG, 'The configuration file exists but cannot be read or parsed.'),
  CONFIG_MISSING: c(ExitCode.CONFIG, 'A setting needed by this command is not configured.'),
  NOT_IMPLEMENTED: c(ExitCode.FAILED, 'This command is not available in this build.'),
  // locks / journals
  LOCK_HELD: c(ExitCode.BUSY, 'Another run holds the lock.'),
  // files
  FS_UNREADABLE: c(ExitCode.FAILED, 'A file could not be read.'),
  FS_WRITE_FAILED: c(ExitCode.FAILED, 'A file could not be written.'),
  FS_UNSAFE_PERMISSIONS: c(ExitCode.PREFLIGHT_REFUSED, 'A file or folder holding secrets has unsafe permissions.'),
  // backup
  BACKUP_MISSING_FILES: c(ExitCode.PREFLIGHT_REFUSED, 'Required files for the backup are missing.'),
  BACKUP_FILE_CHANGED: c(ExitCode.FAILED, 'A file vanished or changed while it was being backed up.'),
  BACKUP_FAILED: c(ExitCode.FAILED, 'The backup could not be written.'),
  BACKUP_ENCRYPTION_FAILED: c(ExitCode.FAILED, 'The backup could not be encrypted or decrypted.'),
  BACKUP_OFFBOX_FAILED: c(ExitCode.FAILED, 'The off-box copy failed.'),
  BACKUP_DIR_NOT_FOUND: c(ExitCode.FAILED, 'The backup folder does not exist (check --root, --dir, backup.dir).'),
  // archives (read side, shared by verify and restore)
  ARCHIVE_NOT_FOUND: c(ExitCode.FAILED, 'The archive does not exist.'),
  ARCHIVE_CORRUPT: c(ExitCode.VERIFY_FAILED, 'The archive is not a readable gzip’d tar.'),
  ARCHIVE_HASH_MISMATCH: c(ExitCode.VERIFY_FAILED, 'The archive or a member does not match its recorded SHA-256.'),
  ARCHIVE_MANIFEST_INVALID: c(ExitCode.VERIFY_FAILED, 'The archive manifest is malformed or of an unknown version.'),
  ARCHIVE_UNSAFE_MEMBER: c(ExitCode.PREFLIGHT_REFUSED, 'The archive holds a member that must never be extracted.'),
  ARCHIVE_TOO_LARGE: c(ExitCode.PREFLIGHT_REFUSED, 'The archive expands beyond the configured limits.'),
  ARCHIVE_SIGNATURE_INVALID: c(
    ExitCode.VERIFY_FAILED,
    'The archive manifest does not match its signature (changed after signing).',
  ),
  ARCHIVE_SIGNER_UNTRUSTED: c(ExitCode.VERIFY_FAILED, 'The archive is signed by a key that is not a trusted signer.'),
  ARCHIVE_CHANGED: c(ExitCode.PREFLIGHT_REFUSED, 'The archive changed while it was being restored.'),
  ARCHIVE_NAME_MISMATCH: c(
    ExitCode.VERIFY_FAILED,
    'The archive’s name is not the one its signed manifest implies (renamed).',
  ),
  // restore
  RESTORE_PREFLIGHT: c(ExitCode.PREFLIGHT_REFUSED, 'A restore preflight check failed; nothing was changed.'),
  RESTORE_FAILED: c(ExitCode.FAILED, 'The restore failed and was rolled back.'),
  RESTORE_ROLLBACK_FAILED: c(ExitCode.FAILED, 'The restore failed and so did its rollback: see the journal.'),
  RESTORE_JOURNAL_PRESENT: c(
    ExitCode.BUSY,
    'An interrupted restore left a journal: run restore --resume or --rollback.',
  ),
  RESTORE_NEEDS_CONFIRMATION: c(ExitCode.PREFLIGHT_REFUSED, 'The restore needs confirmation (--yes).'),
  // services
  SERVICE_FAILED: c(ExitCode.FAILED, 'A service could not be started, stopped or queried.'),
  COMMAND_FAILED: c(ExitCode.FAILED, 'An external command failed.'),
  // salt-api
  SALTAPI_AUTH_DENIED: c(ExitCode.FAILED, 'salt-api refused the credentials.'),
  SALTAPI_CLIENT_DISABLED: c(ExitCode.CONFIG, 'salt-api does not enable this client (netapi_enable_clients).'),
  SALTAPI_UNAVAILABLE: c(ExitCode.FAILED, 'salt-api or the Salt master is unreachable or unavailable.'),
  SALTAPI_TIMEOUT: c(ExitCode.FAILED, 'salt-api did not answer in time.'),
  SALTAPI_BAD_PAYLOAD: c(ExitCode.FAILED, 'salt-api answered with something that is not what the API returns.'),
  SALTAPI_HTTP: c(ExitCode.FAILED, 'salt-api answered with an unexpected HTTP status.'),
  // salt keys
  KEYS_INVALID: c(ExitCode.FAILED, 'A key file is not a valid key.'),
  KEYS_PAIR_MISMATCH: c(ExitCode.VERIFY_FAILED, 'A private and a public key do not form one pair.'),
  KEYS_REFUSED: c(ExitCode.PREFLIGHT_REFUSED, 'A key operation was refused by its safety checks.'),
  KEYS_ROTATE_FAILED: c(ExitCode.FAILED, 'Master key rotation failed.'),
  KEYS_MASTER_CONFIG_INVALID: c(
    ExitCode.FAILED,
    'The Salt master configuration file cannot be read or is not a YAML mapping.',
  ),
  KEYS_SIGNING_DISABLED: c(
    ExitCode.PREFLIGHT_REFUSED,
    'Signed master keys are not enabled (run keys enable-signing first).',
  ),
  KEYS_MINIONS_NOT_READY: c(
    ExitCode.PREFLIGHT_REFUSED,
    'Some minions have not shown that they verify signed master keys.',
  ),
  KEYS_ROTATION_NOT_FOUND: c(ExitCode.FAILED, 'No kept master key pair to roll back to.'),
  KEYS_EXPECTED_INVALID: c(ExitCode.USAGE, 'The expected-fingerprint file or flag is malformed.'),
  // protocol / agents
  PROTOCOL_MALFORMED: c(ExitCode.FAILED, 'A message is not valid protocol JSON.'),
  PROTOCOL_VERSION: c(ExitCode.FAILED, 'A message uses a protocol version this agent does not speak.'),
  PROTOCOL_TOO_LARGE: c(ExitCode.FAILED, 'A message exceeds the size limit.'),
  PROTOCOL_BAD_SIGNATURE: c(ExitCode.FAILED, 'A signed envelope does not verify against the pinned key.'),
  PROTOCOL_WRONG_ROUTER: c(ExitCode.FAILED, 'A command names another router.'),
  PROTOCOL_EXPIRED: c(ExitCode.FAILED, 'A command has expired or is not valid yet.'),
  PROTOCOL_REPLAYED: c(ExitCode.FAILED, 'A command nonce was already seen.'),
  AGENT_UNREACHABLE: c(ExitCode.FAILED, 'The router agent is not connected.'),
  AGENT_TIMEOUT: c(ExitCode.FAILED, 'The router agent did not answer in time.'),
  REAUTH_FAILED: c(ExitCode.FAILED, 'Re-authentication failed; the evidence is in the report.'),
  REAUTH_PARTIAL: c(ExitCode.PARTIAL, 'Re-authentication succeeded for some routers and failed for others.'),
  AGENT_NOT_ENROLLED: c(
    ExitCode.PREFLIGHT_REFUSED,
    'The router agent has no enrolled key in the registry, so its reports cannot be trusted.',
  ),
  AGENT_KEY_CHANGED: c(
    ExitCode.PREFLIGHT_REFUSED,
    'The router agent presented a key other than its enrolled one; an operator must approve the change.',
  ),
  AGENT_ENROLL_REFUSED: c(
    ExitCode.FAILED,
    'A router-agent enrollment was refused: its statement is unsigned, does not verify with the accepted minion key, is outside the clock window, or replayed.',
  ),
  AGENT_LISTENER_BUSY: c(
    ExitCode.FAILED,
    'The agent listener refused a connection: too many connections are proving their key or waiting for enrollment.',
  ),
  AGENT_TLS_PIN_MISMATCH: c(ExitCode.FAILED, 'The conductor-agent certificate does not match the pinned fingerprint.'),
  REAUTH_REFUSED: c(
    ExitCode.PREFLIGHT_REFUSED,
    'Re-authentication was refused before anything changed (bad fingerprint, conflicting pin, missing files).',
  ),
  REAUTH_NOTHING_TO_ROLL_BACK: c(ExitCode.FAILED, 'There is no completed re-authentication to roll back.'),
  REAUTH_MINION_STILL_RUNNING: c(
    ExitCode.FAILED,
    'The minion was asked to stop but its process is still running; nothing was changed.',
  ),
  AGENT_DAEMON_UNREACHABLE: c(
    ExitCode.FAILED,
    'The conductor-agent daemon is not running (its control socket does not answer).',
  ),
  // fleet re-authentication (conductor-agent reauth --all | --routers)
  FLEET_KEY_MISMATCH: c(
    ExitCode.FAILED,
    'A pending minion key is not the one the router reported (signed by its agent or read over pinned SSH): possible impostor, left pending.',
  ),
  FLEET_KEY_UNVERIFIED: c(
    ExitCode.FAILED,
    'A pending minion key has no reported fingerprint to check it against, so it was left pending.',
  ),
  FLEET_NOT_CONFIRMED: c(
    ExitCode.FAILED,
    'The router re-authenticated on its side but does not answer test.ping through salt-api.',
  ),
  FLEET_NO_CHANNEL: c(
    ExitCode.FAILED,
    'No channel reaches the router: no connected agent and no SSH route with a pinned host key.',
  ),
  FLEET_NOTHING_TO_RESUME: c(ExitCode.USAGE, 'reauth --resume found no interrupted wave for the current master key.'),
  FLEET_INVENTORY_INVALID: c(ExitCode.CONFIG, 'The SSH inventory, known_hosts or nodeIdentifier file is malformed.'),
  // SSR conductor API / verify
  SSR_API_UNAVAILABLE: c(ExitCode.FAILED, 'The SSR conductor API is unreachable (is 128T running?).'),
  SSR_API_AUTH: c(ExitCode.FAILED, 'The SSR conductor API refused the credentials or token.'),
  SSR_API_FAILED: c(ExitCode.FAILED, 'The SSR conductor API answered with an error or an unexpected body.'),
  SSR_COMMIT_FAILED: c(ExitCode.FAILED, 'The SSR conductor refused a configuration commit.'),
  SSR_PCLI_FAILED: c(
    ExitCode.FAILED,
    'A PCLI command (e.g. `migrate conductor`) failed; its output is in the details.',
  ),
  // migrate
  MIGRATE_PREFLIGHT: c(ExitCode.PREFLIGHT_REFUSED, 'A migration preflight check failed; nothing was changed.'),
  MIGRATE_TRUST_UNAVAILABLE: c(
    ExitCode.PREFLIGHT_REFUSED,
    'The new master carries another key and no re-pinning path is available, so routers would not trust it.',
  ),
  MIGRATE_JOURNAL_PRESENT: c(
    ExitCode.BUSY,
    'An unfinished migration with other arguments left a journal: run migrate --resume with them, or --rollback-on-failure.',
  ),
  MIGRATE_FAILED: c(ExitCode.FAILED, 'The migration failed for every router; the evidence is in the report.'),
  MIGRATE_PARTIAL: c(ExitCode.PARTIAL, 'The migration succeeded for some routers and failed for others.'),
  MIGRATE_ROUTER_FAILED: c(
    ExitCode.FAILED,
    'One router did not reach Running on the new conductor in time (or its key was refused).',
  ),
  MIGRATE_NOT_CONFIRMED: c(
    ExitCode.FAILED,
    'A router is Running on the new conductor but its minion does not answer test.ping through the new salt-api.',
  ),
  MIGRATE_REPIN_FAILED: c(
    ExitCode.FAILED,
    'A router could not be re-pinned to the new master key (no channel, refused, an impostor key, or no test.ping).',
  ),
  VERIFY_FAILED: c(ExitCode.VERIFY_FAILED, 'A post-recovery check failed (ports, routers or minions); see the report.'),
  // ssh
  SSH_HOST_KEY_MISMATCH: c(ExitCode.FAILED, 'The SSH host key does not match the pinned key.'),
  SSH_FAILED: c(ExitCode.FAILED, 'An SSH connection or command failed.'),
  SSH_HOST_KEY_UNKNOWN: c(
    ExitCode.FAILED,
    'No pinned host key for this SSH host (known_hosts, agent reports); --accept-new-host-keys takes it, loudly.',
  ),
  SSH_TIMEOUT: c(ExitCode.FAILED, 'An SSH host did not finish within its per-host timeout.'),
  SSH_COMMAND_FAILED: c(
    ExitCode.FAILED,
    'A re-authentication step run over SSH exited non-zero; its output is the evidence.',
  ),
  // everything else
  INTERNAL: c(ExitCode.INTERNAL, 'An unexpected internal error (a bug).'),
} as const satisfies Record<string, CodeSpec>;

export type ErrorCode = keyof typeof ErrorCodes;

export interface RecoveryErrorOptions {
  /** The underlying error, kept for logs and `--json` output. */
  cause?: unknown;
  /** Structured facts for reports (paths, ids, expected/actual values). Never secrets. */
  details?: Record<string, unknown>;
  /** What the operator should do next. */
  hint?: string;
}

/**
 * Brand shared by every copy of this module. A process can hold two copies (a test loads a module
 * from source while a lazily imported one resolves to another URL); errors from either must still
 * be recognised, or every RecoveryError would be reported as INTERNAL.
 */
const BRAND = Symbol.for('ssr-recovery.RecoveryError');

/** Base class of every error the product reports. */
export class RecoveryError extends Error {
  /** `x instanceof RecoveryError` holds across module copies; subclasses keep the normal check. */
  static override [Symbol.hasInstance](x: unknown): boolean {
    if (this === RecoveryError)
      return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[BRAND] === true;
    return Function.prototype[Symbol.hasInstance].call(this, x);
  }

  readonly [BRAND] = true;
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: RecoveryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
    this.hint = options.hint;
  }

  /** The process exit code this error maps to. */
  get exitCode(): ExitCodeValue {
    return ErrorCodes[this.code].exit;
  }

  /** A JSON-safe view (for `--json` output and logs). */
  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(Object.keys(this.details).length ? { details: this.details } : {}),
    };
  }
}

export class ConfigError extends RecoveryError {}
export class FsError extends RecoveryError {}
export class BackupError extends RecoveryError {}
export class ArchiveError extends RecoveryError {}
export class RestoreError extends RecoveryError {}
export class ServiceError extends RecoveryError {}
export class SaltApiError extends RecoveryError {}
export class KeysError extends RecoveryError {}
export class ProtocolError extends RecoveryError {}
export class AgentError extends RecoveryError {}
export class SshError extends RecoveryError {}
export class UsageError extends RecoveryError {
  constructor(message: string, options?: RecoveryErrorOptions) {
    super('USAGE', message, options);
  }
}

/** A bug: anything that is not a RecoveryError becomes one of these at the CLI boundary. */
export class InternalError extends RecoveryError {
  constructor(message: string, options?: RecoveryErrorOptions) {
    super('INTERNAL', message, {
      hint: 'This is a bug in ssr-recovery. Please report it with the log (run again with --log-level debug).',
      ...options,
    });
  }
}

/** Narrow an unknown throwable to a RecoveryError, wrapping anything else as an InternalError. */
export function asRecoveryError(err: unknown): RecoveryError {
  if (err instanceof RecoveryError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new InternalError(message, { cause: err });
}

/** True when `err` is a RecoveryError with the given code (tests and callers use this, not messages). */
export function hasCode(err: unknown, code: ErrorCode): err is RecoveryError {
  return err instanceof RecoveryError && err.code === code;
}
