/**
 * SsrConductor over the SSR REST API and GraphQL (reference/ssr.md §4.1, §4.2, §4.4):
 * `POST /api/v1/login` → JWT, `Authorization: Bearer`, `GET /api/v1/system`, `POST /api/v1/graphql`,
 * `POST /api/v1/config/import`, `POST /api/v1/config/commit`. The transport (fetch) is injected.
 */
import { readFile } from 'node:fs/promises';
import { Agent as HttpsAgent } from 'node:https';
import nodeFetch, { type RequestInit, type Response } from 'node-fetch';
import { RecoveryError } from '../../shared/errors.js';
import type { AssetState, SsrConductor, SsrSystemInfo } from './conductor.js';

type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

export interface HttpSsrConductorOptions {
  /** Base URL, e.g. `https://127.0.0.1` (the API lives under `/api/v1`). */
  url: string;
  username: string;
  password: string;
  /** PEM CA bundle to trust for https. */
  ca?: string | undefined;
  timeoutMs?: number;
  fetch?: FetchLike;
}

const ASSETS_QUERY =
  '{ allAuthorities { edges { node { assets { assetId routerName nodeName t128Version status assetIdConfigured text failedStatus } } } } }';

/** Build an SsrConductor from options; read the password from a file first with {@link readSecretFile}. */
export function createHttpSsrConductor(options: HttpSsrConductorOptions): SsrConductor {
  const base = options.url.replace(/\/+$/, '') + '/api/v1';
  const doFetch: FetchLike = options.fetch ?? ((u, i) => nodeFetch(u, i));
  const agent = base.startsWith('https:') ? new HttpsAgent({ ca: options.ca, keepAlive: true }) : undefined;
  const timeoutMs = options.timeoutMs ?? 30_000;
  let token: string | undefined;

  const request = async (method: string, path: string, body?: unknown, auth = true): Promise<unknown> => {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth) headers.Authorization = `Bearer ${await login()}`;
    let res: Response;
    try {
      res = await doFetch(base + path, {
        method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(agent ? { agent } : {}), signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new RecoveryError('SSR_API_UNAVAILABLE', `SSR API ${method} ${path} failed: ${(err as Error).message}`, {
        cause: err, details: { url: base + path }, hint: 'Is 128T running and the API reachable from here? (systemctl status 128T)',
      });
    }
    const text = await res.text();
    if (res.status === 401 && auth) {
      token = undefined;
      throw new RecoveryError('SSR_API_AUTH', `SSR API refused the token for ${method} ${path}`, { details: { status: res.status } });
    }
    if (!res.ok) {
      throw new RecoveryError('SSR_API_FAILED', `SSR API ${method} ${path} answered ${res.status}`, {
        details: { status: res.status, body: text.slice(0, 500) },
      });
    }
    try {
      return text ? JSON.parse(text) : undefined;
    } catch (err) {
      throw new RecoveryError('SSR_API_FAILED', `SSR API ${method} ${path} answered with something that is not JSON`, { cause: err });
    }
  };

  const login = async (): Promise<string> => {
    if (token) return token;
    let out: unknown;
    try {
      out = await request('POST', '/login', { username: options.username, password: options.password }, false);
    } catch (err) {
      if (err instanceof RecoveryError && err.code === 'SSR_API_FAILED' && (err.details.status === 401 || err.details.status === 403)) {
        throw new RecoveryError('SSR_API_AUTH', `SSR API refused the credentials of ${options.username}`, {
          cause: err, hint: 'Check ssr.username and the file named by ssr.passwordFile.',
        });
      }
      throw err;
    }
    const t = (out as { token?: unknown } | undefined)?.token;
    if (typeof t !== 'string' || !t) throw new RecoveryError('SSR_API_FAILED', 'SSR API login answered without a token');
    token = t;
    return t;
  };

  return {
    async system(): Promise<SsrSystemInfo> {
      const s = (await request('GET', '/system')) as { router?: unknown; softwareVersion?: unknown } | undefined;
      return {
        ...(typeof s?.router === 'string' ? { router: s.router } : {}),
        ...(typeof s?.softwareVersion === 'string' ? { softwareVersion: s.softwareVersion } : {}),
      };
    },
    async assets(): Promise<AssetState[]> {
      const out = (await request('POST', '/graphql', { query: ASSETS_QUERY })) as GraphQlAssets | undefined;
      const edges = out?.data?.allAuthorities?.edges;
      if (!Array.isArray(edges)) {
        throw new RecoveryError('SSR_API_FAILED', 'SSR GraphQL assets answer has no allAuthorities.edges', { details: { errors: out?.errors } });
      }
      return edges.flatMap((e) => e?.node?.assets ?? []).map((a) => ({
        routerName: String(a.routerName ?? ''),
        nodeName: String(a.nodeName ?? ''),
        assetId: String(a.assetId ?? ''),
        status: String(a.status ?? 'unknown').toLowerCase(),
        ...(a.text ? { text: String(a.text) } : {}),
      }));
    },
    async importConfig(exportName: string): Promise<void> {
      await request('POST', '/config/import', { filename: exportName });
    },
    async commit(): Promise<void> {
      const out = await request('POST', '/config/commit', {});
      if (Array.isArray(out) && out.length > 0) {
        throw new RecoveryError('SSR_COMMIT_FAILED', 'the SSR conductor refused the commit', {
          details: { messages: out.map((m: { message?: unknown }) => String(m?.message ?? m)) },
          hint: 'Fix the validation errors listed, then commit again.',
        });
      }
    },
  };
}

interface GraphQlAssets {
  data?: { allAuthorities?: { edges?: Array<{ node?: { assets?: Array<Record<string, unknown>> } }> } };
  errors?: unknown;
}

/** Read a secret from a file (trailing newline removed), with a clear error. */
export async function readSecretFile(path: string, what: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  } catch (err) {
    throw new RecoveryError('CONFIG_MISSING', `cannot read ${what} from ${path}: ${(err as Error).message}`, {
      cause: err, details: { path }, hint: `Create ${path} (mode 0600) holding only the secret.`,
    });
  }
}
