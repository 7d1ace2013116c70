/**
 * What salt-api (`rest_cherrypy`, 3006/3007) really returns, as types (reference/salt.md §1, §2;
 * captures under test/fixtures/captures/salt-api-3006.18). Values a minion returns are `unknown`
 * unless the caller knows the function.
 */

/** `POST /login` → `return[0]`. `token` is the CherryPy session id (40 hex), sent back as `X-Auth-Token`. */
export interface LoginInfo {
  token: string;
  /** Epoch seconds (float). */
  expire: number;
  start: number;
  user: string;
  eauth: string;
  /** A list, or `{}` when the user has no permissions. */
  perms: unknown[] | Record<string, never>;
}

/** One lowstate chunk (`POST /`, `/run`). Extra keys are passed through as keyword arguments. */
export interface Lowstate {
  client:
    | 'local'
    | 'local_async'
    | 'local_batch'
    | 'local_subset'
    | 'runner'
    | 'runner_async'
    | 'ssh'
    | 'wheel'
    | 'wheel_async';
  fun: string;
  tgt?: string | string[];
  tgt_type?: string;
  arg?: unknown[];
  kwarg?: Record<string, unknown>;
  timeout?: number;
  full_return?: boolean;
  batch?: string;
  [key: string]: unknown;
}

/**
 * `local` result: one entry per targeted minion; **a targeted minion that did not answer is `false`**
 * (LocalClient.cmd). No minion matched → `{}`.
 */
export type LocalResult<T = unknown> = Record<string, T | false>;

/** `local` with `full_return: true`: `{ret, retcode, jid}` per minion, `false` for non-returners. */
export type LocalFullResult<T = unknown> = Record<
  string,
  { ret: T; retcode: number; jid: string; out?: string } | false
>;

/** `local_async`: the published job, or `null` when no minion matched (salt-api returns `{}`). */
export interface AsyncJob {
  jid: string;
  minions: string[];
}

/** `wheel` result item: the fired event dict wrapped in `{tag, data}`. */
export interface WheelResult<T = unknown> {
  tag: string;
  data: {
    fun: string;
    jid: string;
    tag: string;
    user: string;
    _stamp: string;
    return: T;
    success: boolean;
  };
}

/** Key statuses as wheel `key.*` and `/keys` name them. */
export type KeyStatusName = 'minions' | 'minions_pre' | 'minions_rejected' | 'minions_denied';

/** `key.list_all` and `GET /keys` (`return` is an object there, not a list). */
export interface KeysListAll {
  local: string[];
  minions: string[];
  minions_pre: string[];
  minions_rejected: string[];
  minions_denied: string[];
}

/** `key.finger` / `GET /keys/<mid>`: fingerprints grouped by status (`local` for master keys). */
export type KeyFingers = Partial<Record<KeyStatusName | 'local', Record<string, string>>>;

/** `manage.status`. */
export interface ManageStatus {
  up: string[];
  down: string[];
}

/** `GET /jobs/<jid>`. */
export interface JobLookup {
  info: Array<
    Record<string, unknown> & {
      jid: string;
      Function?: string;
      Minions?: string[];
      Result?: Record<string, { return: unknown; retcode?: number; success?: boolean }>;
    }
  >;
  return: Array<Record<string, unknown>>;
}

/** A raw event from `/events` (or `/ws`): the JSON object salt-api sends. */
export interface RawSaltEvent {
  tag: string;
  data: Record<string, unknown>;
}
