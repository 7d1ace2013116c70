/**
 * The salt-api session and request core: logs in with any eauth backend, reuses the session token
 * (`X-Auth-Token`), logs in again once on 401, retries 503/504 and network failures with capped,
 * jittered backoff (the client's own timeout is never retried: the call may have run), and applies
 * a timeout to every attempt. Typed calls live in client.ts.
 */
import { observeSink } from '../../shared/observe/sink.js';
import { SaltApiError } from '../../shared/errors.js';
import { systemClock, type Clock } from '../../shared/ports/clock.js';
import { systemRandom, type Random } from '../../shared/ports/random.js';
import { nullLogger, type Logger } from '../../shared/log/logger.js';
import { badPayload, errorFromNetwork, errorFromResponse, isRetryable } from './errors.js';
import { createTransport, type FetchLike, type Transport, type Response } from './transport.js';
import type { LoginInfo } from './types.js';

export interface SaltApiClientOptions {
  /** salt-api base URL (`saltApi.url`). */
  url: string;
  username: string;
  /** The password or shared secret, or a function reading it (e.g. from `saltApi.passwordFile`). */
  password: string | (() => Promise<string>);
  /** eauth backend (`saltApi.eauth`): pam, sharedsecret, ldap, file, … */
  eauth: string;
  /** Pinned CA bundle or server certificate (PEM) for https. */
  ca?: string | Buffer;
  /** Permit plain http to a non-loopback host. */
  allowInsecureHttp?: boolean;
  /** Per-attempt timeout in ms (`saltApi.timeoutMs`, default 30 s). Long `local` calls add their own `timeout`. */
  timeoutMs?: number;
  /** Retries after a 503/504/network failure (default 4). */
  retries?: number;
  /** Backoff: first delay and cap in ms (default 250 / 5000), full jitter between half and the whole delay. */
  backoff?: { baseMs: number; maxMs: number };
  fetch?: FetchLike;
  clock?: Clock;
  random?: Random;
  logger?: Logger;
}

export interface RequestSpec {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  /** Send the session token (and re-login on 401). */
  auth: boolean;
  /** Extra per-attempt time in ms (a local call's own `timeout`). */
  extraMs?: number;
}

export class SaltApiSession {
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly log: Logger;
  private session: LoginInfo | undefined;
  private loggingIn: Promise<LoginInfo> | undefined;

  constructor(protected readonly o: SaltApiClientOptions) {
    this.transport = createTransport({
      url: o.url,
      ...(o.ca !== undefined ? { ca: o.ca } : {}),
      ...(o.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
      ...(o.fetch ? { fetch: o.fetch } : {}),
    });
    this.clock = o.clock ?? systemClock;
    this.random = o.random ?? systemRandom;
    this.log = (o.logger ?? nullLogger).child({ component: 'saltapi' });
  }

  /** The base URL (no trailing slash). */
  get url(): string {
    return this.transport.baseUrl;
  }

  /** The current session (after a login), e.g. for `/events` and `/ws/<token>`. */
  get currentSession(): LoginInfo | undefined {
    return this.session;
  }

  /** `POST /login`. Replaces the session; concurrent callers share one login. */
  login(): Promise<LoginInfo> {
    this.loggingIn ??= this.doLogin().finally(() => (this.loggingIn = undefined));
    return this.loggingIn;
  }

  private async doLogin(): Promise<LoginInfo> {
    const password = typeof this.o.password === 'function' ? await this.o.password() : this.o.password;
    const doc = await this.request({
      method: 'POST',
      path: '/login',
      auth: false,
      body: { username: this.o.username, password, eauth: this.o.eauth },
    });
    const info = (doc as { return?: unknown[] }).return?.[0] as LoginInfo | undefined;
    if (!info || typeof info.token !== 'string' || !info.token)
      throw badPayload('POST /login', 'no token in the answer');
    this.session = info;
    this.log.debug('logged in to salt-api', { user: info.user, eauth: info.eauth, expire: info.expire });
    return info;
  }

  /** A valid session token, logging in when there is none or it has expired. */
  async token(): Promise<string> {
    const s = this.session;
    if (s && s.expire * 1000 > this.clock.now() + 5000) return s.token;
    return (await this.login()).token;
  }

  /** Forget the session so the next call logs in again (after a 401 on a stream). */
  invalidate(token?: string): void {
    if (!token || this.session?.token === token) this.session = undefined;
  }

  /** `POST /logout` (best effort) and close idle sockets. */
  async close(): Promise<void> {
    if (this.session) {
      await this.request({ method: 'POST', path: '/logout', auth: true }).catch(() => undefined);
      this.session = undefined;
    }
    this.transport.close();
  }

  /** Low-level call shared with the event stream: fetch with token header, no retries, no parsing. */
  async rawFetch(
    path: string,
    init: { method?: string; headers?: Record<string, string>; signal?: AbortSignal; token?: string },
  ): Promise<Response> {
    const token = init.token ?? (await this.token());
    return this.transport.fetch(this.url + path, {
      method: init.method ?? 'GET',
      headers: { Accept: 'application/json', 'X-Auth-Token': token, ...(init.headers ?? {}) },
      ...(init.signal ? { signal: init.signal as never } : {}),
    });
  }

  /** Send a request with timeout, re-login on 401 (once) and retries on 503/504/network. */
  protected async request(spec: RequestSpec): Promise<unknown> {
    const retries = this.o.retries ?? 4;
    const { baseMs, maxMs } = this.o.backoff ?? { baseMs: 250, maxMs: 5000 };
    let relogged = false;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(spec);
      } catch (err) {
        if (
          spec.auth &&
          !relogged &&
          err instanceof SaltApiError &&
          err.code === 'SALTAPI_AUTH_DENIED' &&
          err.details.status === 401
        ) {
          relogged = true;
          this.session = undefined;
          this.log.debug('salt-api session refused; logging in again', { request: `${spec.method} ${spec.path}` });
          attempt--;
          continue;
        }
        if (!isRetryable(err) || (err as SaltApiError).details.ownTimeout || attempt >= retries) {
          if (err instanceof SaltApiError) observeSink().saltApiError(err.code);
          throw err;
        }
        const delay = Math.min(maxMs, baseMs * 2 ** attempt) * (0.5 + this.random.float() / 2);
        this.log.debug('salt-api call failed; retrying', {
          request: `${spec.method} ${spec.path}`,
          code: (err as SaltApiError).code,
          attempt: attempt + 1,
          delayMs: Math.round(delay),
        });
        await this.clock.sleep(delay);
      }
    }
  }

  private async attempt(spec: RequestSpec): Promise<unknown> {
    const label = `${spec.method} ${spec.path}`;
    const headers: Record<string, string> = { Accept: 'application/json', 'X-Requested-With': 'XMLHttpRequest' };
    if (spec.body !== undefined) headers['Content-Type'] = 'application/json';
    if (spec.auth) headers['X-Auth-Token'] = await this.token();
    const ac = new AbortController();
    const limit = (this.o.timeoutMs ?? 30_000) + (spec.extraMs ?? 0);
    const timer = this.clock.setTimeout(() => ac.abort(), limit);
    let res: Response;
    let text: string;
    try {
      res = await this.transport.fetch(this.url + spec.path, {
        method: spec.method,
        headers,
        signal: ac.signal as never,
        ...(spec.body !== undefined ? { body: JSON.stringify(spec.body) } : {}),
      });
      text = await res.text();
    } catch (err) {
      if (ac.signal.aborted) {
        throw new SaltApiError('SALTAPI_TIMEOUT', `salt-api did not answer ${label} within ${limit} ms`, {
          cause: err,
          details: { request: label, timeoutMs: limit, ownTimeout: true },
          hint: 'Raise saltApi.timeoutMs or check the master load.',
        });
      }
      throw errorFromNetwork(err, label);
    } finally {
      this.clock.clearTimeout(timer);
    }
    const type = res.headers.get('content-type') ?? '';
    if (res.status >= 400)
      throw errorFromResponse({ status: res.status, body: text, contentType: type, request: label });
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw badPayload(label, `not JSON (HTTP ${res.status}, ${type || 'no content type'})`, text);
    }
  }
}
