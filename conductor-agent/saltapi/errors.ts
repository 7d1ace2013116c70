/**
 * HTTP outcome → typed {@link SaltApiError} with a stable code (reference/salt.md §1.5):
 * 401 → SALTAPI_AUTH_DENIED, 400 "Client disabled: …" → SALTAPI_CLIENT_DISABLED,
 * 503 → SALTAPI_UNAVAILABLE, 504 → SALTAPI_TIMEOUT, everything else → SALTAPI_HTTP.
 * Bodies are parsed with {@link parseErrorBody}; the error keeps status and message in `details`.
 */
import { SaltApiError } from '../../shared/errors.js';
import { parseErrorBody } from './html-error.js';

export interface HttpFailure {
  status: number;
  body: string;
  contentType: string;
  /** `METHOD /path` for messages (never the token). */
  request: string;
}

/** Build the typed error for a non-2xx salt-api answer. */
export function errorFromResponse(f: HttpFailure): SaltApiError {
  const parsed = parseErrorBody(f.body, f.contentType);
  const details = { status: f.status, request: f.request, message: parsed.message };
  const said = parsed.message ? `: ${parsed.message}` : '';
  switch (true) {
    case f.status === 401:
      return new SaltApiError('SALTAPI_AUTH_DENIED', `salt-api refused ${f.request} (401${said})`, {
        details,
        hint: 'Check saltApi.username, saltApi.eauth and the password file, and the external_auth rights (@wheel, @runner, @jobs) on the master.',
      });
    case f.status === 400 && /Client disabled/i.test(parsed.message): {
      const client = /Client disabled: '([^']*)'/.exec(parsed.message)?.[1];
      return new SaltApiError('SALTAPI_CLIENT_DISABLED', `salt-api client ${client ?? ''} is disabled${said}`, {
        details: { ...details, client },
        hint: `Add ${client ?? 'the client'} to netapi_enable_clients in the master config and restart salt-master and salt-api.`,
      });
    }
    case f.status === 503:
      return new SaltApiError(
        'SALTAPI_UNAVAILABLE',
        `salt-api or the Salt master is unavailable (${f.request}: 503${said})`,
        {
          details,
          hint: 'Check that salt-master and salt-api are running: systemctl status salt-master salt-api.',
        },
      );
    case f.status === 504:
      return new SaltApiError('SALTAPI_TIMEOUT', `the Salt master did not answer in time (${f.request}: 504${said})`, {
        details,
        hint: 'Retry later, or raise the call timeout; the master may be overloaded.',
      });
    default:
      return new SaltApiError('SALTAPI_HTTP', `salt-api answered ${f.request} with HTTP ${f.status}${said}`, {
        details,
        hint:
          f.status >= 500
            ? 'See the salt-api log on the conductor.'
            : 'This is a request salt-api does not accept; run with --log-level debug and report it.',
      });
  }
}

/** A network failure (refused, reset, DNS, TLS) → SALTAPI_UNAVAILABLE (TLS problems say so). */
export function errorFromNetwork(err: unknown, request: string): SaltApiError {
  const e = err as { code?: string; message?: string };
  const tls = /CERT|SSL|TLS|self[- ]signed|certificate/i.test(`${e.code ?? ''} ${e.message ?? ''}`);
  return new SaltApiError('SALTAPI_UNAVAILABLE', `cannot reach salt-api for ${request}: ${e.message ?? String(err)}`, {
    cause: err,
    details: { request, errno: e.code },
    hint: tls
      ? 'The salt-api TLS certificate does not verify against saltApi.caFile; check the pinned CA or certificate.'
      : 'Check saltApi.url and that salt-api is running (systemctl status salt-api).',
  });
}

/** The answer was 2xx but not what salt-api returns. */
export function badPayload(request: string, why: string, sample?: string): SaltApiError {
  return new SaltApiError('SALTAPI_BAD_PAYLOAD', `unexpected answer from salt-api for ${request}: ${why}`, {
    details: { request, ...(sample !== undefined ? { sample: sample.slice(0, 200) } : {}) },
    hint: 'Check that saltApi.url points at salt-api (rest_cherrypy) and not at another service.',
  });
}

/** True for failures worth retrying: master unavailable / gateway timeout / network. */
export function isRetryable(err: unknown): boolean {
  return err instanceof SaltApiError && (err.code === 'SALTAPI_UNAVAILABLE' || err.code === 'SALTAPI_TIMEOUT');
}
