/**
 * salt-api (`rest_cherrypy`) client: typed calls over {@link SaltApiSession}. Results are typed as
 * salt-api really returns them (types.ts) — a targeted minion that did not answer is `false`,
 * `/keys` returns an object, wheel results are wrapped in `{tag, data: {return, success}}` —;
 * failures are {@link SaltApiError}s with stable codes (errors.ts). Works unchanged against a real
 * salt-api 3006/3007: nothing here depends on the emulator.
 */
import { SaltApiError } from '../../shared/errors.js';
import { badPayload } from './errors.js';
import { SaltApiSession, type SaltApiClientOptions } from './http.js';
import type {
  AsyncJob,
  JobLookup,
  KeyFingers,
  KeysListAll,
  LocalFullResult,
  LocalResult,
  Lowstate,
  WheelResult,
} from './types.js';

export type { SaltApiClientOptions } from './http.js';

export interface LocalOptions {
  /** `tgt_type`; an array target defaults to `list`. */
  tgtType?: string;
  kwarg?: Record<string, unknown>;
  /** Seconds the master waits for returns. */
  timeout?: number;
}

export class SaltApiClient extends SaltApiSession {
  /** `GET /`: `{return: "Welcome", clients: [...]}` (no auth). */
  async root(): Promise<{ return: string; clients: string[] }> {
    return (await this.request({ method: 'GET', path: '/', auth: false })) as { return: string; clients: string[] };
  }

  /** `POST /` with lowstate chunks: one result per chunk (batch clients may add more). */
  async low(chunks: Lowstate[], extraMs = 0): Promise<unknown[]> {
    const doc = await this.request({ method: 'POST', path: '/', auth: true, body: chunks, extraMs });
    return returnList(doc, 'POST /');
  }

  /** `POST /run`: sessionless, each chunk carries the eauth credentials (pepper does the same). */
  async run(chunks: Lowstate[], extraMs = 0): Promise<unknown[]> {
    const password = typeof this.o.password === 'function' ? await this.o.password() : this.o.password;
    const body = chunks.map((c) => ({ ...c, username: this.o.username, password, eauth: this.o.eauth }));
    return returnList(await this.request({ method: 'POST', path: '/run', auth: false, body, extraMs }), 'POST /run');
  }

  /** `local`: `{minion: return}`; **a targeted minion that did not answer is `false`**; no match → `{}`. */
  async local<T = unknown>(
    tgt: string | readonly string[],
    fun: string,
    arg: readonly unknown[] = [],
    options: LocalOptions = {},
  ): Promise<LocalResult<T>> {
    const [r] = await this.low([this.chunk('local', tgt, fun, arg, options)], (options.timeout ?? 0) * 1000);
    return asObject(r, 'local') as LocalResult<T>;
  }

  /** `local` with `full_return: true`: `{ret, retcode, jid}` per minion, `false` for non-returners. */
  async localFull<T = unknown>(
    tgt: string | readonly string[],
    fun: string,
    arg: readonly unknown[] = [],
    options: LocalOptions = {},
  ): Promise<LocalFullResult<T>> {
    const [r] = await this.low(
      [{ ...this.chunk('local', tgt, fun, arg, options), full_return: true }],
      (options.timeout ?? 0) * 1000,
    );
    return asObject(r, 'local') as LocalFullResult<T>;
  }

  /** `local_async`: the job, or `null` when no minion matched. */
  async localAsync(
    tgt: string | readonly string[],
    fun: string,
    arg: readonly unknown[] = [],
    options: LocalOptions = {},
  ): Promise<AsyncJob | null> {
    const [r] = await this.low([this.chunk('local_async', tgt, fun, arg, options)]);
    const o = asObject(r, 'local_async') as Partial<AsyncJob>;
    if (typeof o.jid !== 'string') return null;
    return { jid: o.jid, minions: Array.isArray(o.minions) ? o.minions : [] };
  }

  /** `local_batch` (e.g. `batch: '10%'`): salt-api returns one item per minion; merged here. */
  async localBatch<T = unknown>(
    tgt: string | readonly string[],
    fun: string,
    batch: string,
    arg: readonly unknown[] = [],
    options: LocalOptions = {},
  ): Promise<LocalResult<T>> {
    const items = await this.low(
      [{ ...this.chunk('local_batch', tgt, fun, arg, options), batch }],
      (options.timeout ?? 0) * 1000,
    );
    return Object.assign({}, ...items.map((i) => asObject(i, 'local_batch'))) as LocalResult<T>;
  }

  /** `runner` with keyword arguments: the runner's return value. */
  async runner<T = unknown>(fun: string, kwarg: Record<string, unknown> = {}): Promise<T> {
    const [r] = await this.low([{ client: 'runner', fun, ...kwarg }]);
    return r as T;
  }

  /** `wheel`: the `{tag, data: {return, success, …}}` item as salt-api sends it. */
  async wheel<T = unknown>(fun: string, kwarg: Record<string, unknown> = {}): Promise<WheelResult<T>> {
    const [r] = await this.low([{ client: 'wheel', fun, ...kwarg }]);
    const w = r as WheelResult<T> | undefined;
    if (!w || typeof w !== 'object' || !w.data || typeof w.data !== 'object' || !('return' in w.data)) {
      throw badPayload(`wheel ${fun}`, 'not a {tag, data} wheel result', JSON.stringify(r));
    }
    return w;
  }

  /** `wheel` unwrapped: `data.return`; `success: false` (the master's error text in `return`) → SALTAPI_BAD_PAYLOAD. */
  async wheelReturn<T = unknown>(fun: string, kwarg: Record<string, unknown> = {}): Promise<T> {
    const w = await this.wheel<T>(fun, kwarg);
    if (w.data.success === false) {
      throw new SaltApiError('SALTAPI_BAD_PAYLOAD', `wheel ${fun} failed on the master: ${String(w.data.return)}`, {
        details: { fun, return: w.data.return },
      });
    }
    return w.data.return;
  }

  /** `GET /keys`: `key.list_all` (an object, not a list). */
  async keys(): Promise<KeysListAll> {
    const doc = (await this.request({ method: 'GET', path: '/keys', auth: true })) as { return?: unknown };
    return asObject(doc.return, 'GET /keys') as unknown as KeysListAll;
  }

  /** `GET /keys/<mid>`: `key.finger match=<mid>` (`{minions: {mid: fp}}`, grouped by status). */
  async keyFinger(mid: string): Promise<KeyFingers> {
    const doc = (await this.request({ method: 'GET', path: `/keys/${encodeURIComponent(mid)}`, auth: true })) as {
      return?: unknown;
    };
    return asObject(doc.return, 'GET /keys/<mid>') as KeyFingers;
  }

  /** `GET /minions[/<mid>]`: grains per minion. */
  async minions(mid?: string): Promise<Record<string, unknown>> {
    const doc = await this.request({
      method: 'GET',
      path: mid ? `/minions/${encodeURIComponent(mid)}` : '/minions',
      auth: true,
    });
    return asObject(returnList(doc, 'GET /minions')[0], 'GET /minions');
  }

  /** `GET /jobs`: `{jid: {Function, Arguments, Target, …}}`. */
  async jobs(): Promise<Record<string, unknown>> {
    return asObject(
      returnList(await this.request({ method: 'GET', path: '/jobs', auth: true }), 'GET /jobs')[0],
      'GET /jobs',
    );
  }

  /** `GET /jobs/<jid>`: `{info: [...], return: [{minion: ret}]}`. */
  async job(jid: string): Promise<JobLookup> {
    const doc = (await this.request({
      method: 'GET',
      path: `/jobs/${encodeURIComponent(jid)}`,
      auth: true,
    })) as JobLookup;
    if (!Array.isArray(doc.info) || !Array.isArray(doc.return))
      throw badPayload('GET /jobs/<jid>', 'missing info/return');
    return doc;
  }

  /** `POST /hook/<path>`: fires `salt/netapi/hook/<path>` with `post` = `body`. */
  async hook(path: string, body: unknown): Promise<void> {
    await this.request({ method: 'POST', path: `/hook/${path.replace(/^\/+/, '')}`, auth: true, body });
  }

  private chunk(
    client: Lowstate['client'],
    tgt: string | readonly string[],
    fun: string,
    arg: readonly unknown[],
    o: LocalOptions,
  ): Lowstate {
    const list = Array.isArray(tgt);
    return {
      client,
      tgt: list ? [...tgt] : (tgt as string),
      fun,
      arg: [...arg],
      ...((o.tgtType ?? (list ? 'list' : undefined)) ? { tgt_type: o.tgtType ?? 'list' } : {}),
      ...(o.kwarg ? { kwarg: o.kwarg } : {}),
      ...(o.timeout !== undefined ? { timeout: o.timeout } : {}),
    };
  }
}

function returnList(doc: unknown, label: string): unknown[] {
  const r = (doc as { return?: unknown } | null)?.return;
  if (!Array.isArray(r)) throw badPayload(label, '`return` is not a list', JSON.stringify(doc));
  return r;
}

function asObject(v: unknown, label: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badPayload(label, 'expected an object', JSON.stringify(v));
  return v as Record<string, unknown>;
}

/** Create a client (see {@link SaltApiClientOptions}). */
export function createSaltApiClient(options: SaltApiClientOptions): SaltApiClient {
  return new SaltApiClient(options);
}
