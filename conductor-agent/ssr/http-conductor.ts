/**
 * SsrConductor over the SSR REST API and GraphQL (reference/ssr.md §4.1, §4.2, §4.4):
 * `POST /api/v1/login` → JWT, `Authorization: Bearer`, `GET /api/v1/system`, `GET /api/v1/router`,
 * `GET /api/v1/config/running/authority`, `GET /api/v1/config/version?datastore=candidate`,
 * `POST /api/v1/config/export|import|validate|commit|revertToRunning`, `PATCH /api/v1/config/candidate/authority`,
 * `POST /api/v1/graphql`; the PCLI (pcli.ts) for `migrate`. TLS is verified (Node's default), a CA
 * bundle is settable; the transport (fetch) and the process runner are injected.
 */
import { readFile } from 'node:fs/promises';
import { Agent as HttpsAgent } from 'node:https';
import nodeFetch, { type RequestInit, type Response } from 'node-fetch';
import { RecoveryError } from '../../shared/errors.js';
import { systemProcessRunner, type ProcessRunner } from '../../shared/ports/process-runner.js';
import type { ServiceControl } from '../../shared/ports/service-control.js';
import type { AssetState, AuthorityFacts, ConfiguredRouter, SsrConductor, SsrSystemInfo } from './conductor.js';
import { migrateWords, runPcli } from './pcli.js';

type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

export interface HttpSsrConductorOptions {
  /** Base URL, e.g. `https://127.0.0.1` (the API lives under `/api/v1`). */
  url: string;
  username: string;
  password: string;
  /** PEM CA bundle to trust for https (verification stays on). */
  ca?: string | undefined;
  timeoutMs?: number;
  fetch?: FetchLike;
  /** PCLI command template (`ssr.pcliCommand`); default `pcli`. */
  pcliCommand?: string;
  runner?: ProcessRunner;
  /** The 128T service on this conductor (for `service()`). */
  service128t?: ServiceControl | undefined;
}

/** The GraphQL assets query, exactly as stage_check sends it (reference/ssr.md §4.4). */
export const ASSETS_QUERY =
  '{ allAuthorities { edges { node { assets { assetId routerName nodeName t128Version status ' +
  'assetIdConfigured text failedStatus } } } } }';

type Request = (method: string, path: string, body?: unknown, auth?: boolean) => Promise<unknown>;

/** Build an SsrConductor from options; read the password from a file first with {@link readSecretFile}. */
export function createHttpSsrConductor(options: HttpSsrConductorOptions): SsrConductor {
  const base = `${options.url.replace(/\/+$/, '')}/api/v1`;
  const doFetch: FetchLike = options.fetch ?? ((u, i) => nodeFetch(u, i));
  const agent = base.startsWith('https:') ? new HttpsAgent({ ca: options.ca, keepAlive: true }) : undefined;
  const timeoutMs = options.timeoutMs ?? 30_000;
  let token: string | undefined;

  const send = async (method: string, path: string, body: unknown, auth: boolean): Promise<Response> => {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth) headers.Authorization = `Bearer ${await login()}`;
    try {
      return await doFetch(base + path, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(agent ? { agent } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new RecoveryError('SSR_API_UNAVAILABLE', `SSR API ${method} ${path} failed: ${(err as Error).message}`, {
        cause: err,
        details: { url: base + path },
        hint: 'Is 128T running and the API reachable from here? (systemctl status 128T)',
      });
    }
  };

  const request: Request = async (method, path, body, auth = true) => {
    const res = await send(method, path, body, auth);
    const text = await res.text();
    if (res.status === 401 && auth) {
      token = undefined;
      throw new RecoveryError('SSR_API_AUTH', `SSR API refused the token for ${method} ${path}`, {
        details: { status: res.status },
      });
    }
    if (res.status === 503 || res.status === 502) {
      throw new RecoveryError('SSR_API_UNAVAILABLE', `SSR API ${method} ${path} answered ${res.status}`, {
        details: { status: res.status, url: base + path },
        hint: 'Is 128T running? (systemctl status 128T)',
      });
    }
    if (!res.ok) {
      throw new RecoveryError('SSR_API_FAILED', `SSR API ${method} ${path} answered ${res.status}`, {
        details: { status: res.status, body: text.slice(0, 500) },
      });
    }
    try {
      return text ? JSON.parse(text) : undefined;
    } catch (err) {
      throw new RecoveryError('SSR_API_FAILED', `SSR API ${method} ${path} answered with something that is not JSON`, {
        cause: err,
      });
    }
  };

  const login = async (): Promise<string> => {
    if (token) return token;
    let out: unknown;
    try {
      out = await request('POST', '/login', { username: options.username, password: options.password }, false);
    } catch (err) {
      const status = err instanceof RecoveryError ? err.details.status : undefined;
      if (err instanceof RecoveryError && err.code === 'SSR_API_FAILED' && (status === 401 || status === 403)) {
        throw new RecoveryError('SSR_API_AUTH', `SSR API refused the credentials of ${options.username}`, {
          cause: err,
          hint: 'Check ssr.username and the file named by ssr.passwordFile.',
        });
      }
      throw err;
    }
    const t = (out as { token?: unknown } | undefined)?.token;
    if (typeof t !== 'string' || !t) {
      throw new RecoveryError('SSR_API_FAILED', 'SSR API login answered without a token');
    }
    token = t;
    return t;
  };

  const pcli = { template: options.pcliCommand ?? 'pcli', runner: options.runner ?? systemProcessRunner };
  return {
    async login() {
      await login();
    },
    system: () => readSystem(request),
    async version() {
      return (await readSystem(request)).softwareVersion;
    },
    assets: () => readAssets(request),
    async routers() {
      const out = await request('GET', '/router');
      if (!Array.isArray(out)) throw new RecoveryError('SSR_API_FAILED', 'SSR API GET /router answered without a list');
      return out.map((r: { name?: unknown }) => String(r?.name ?? '')).filter(Boolean);
    },
    authority: () => readAuthority(request),
    async candidateDirty() {
      const out = (await request('GET', '/config/version?datastore=candidate')) as { isDirty?: unknown } | undefined;
      return out?.isDirty === true;
    },
    async exportConfig(exportName) {
      await request('POST', '/config/export', { filename: exportName, datastore: 'running' });
    },
    async importConfig(exportName) {
      await request('POST', '/config/import', { filename: exportName });
    },
    async setConductorAddresses(addresses) {
      await request('PATCH', '/config/candidate/authority', { 'conductor-address': [...addresses] });
    },
    async validate() {
      return messagesOf(await request('POST', '/config/validate', {}));
    },
    async commit() {
      const messages = messagesOf(await request('POST', '/config/commit', {}));
      if (messages.length > 0) {
        throw new RecoveryError('SSR_COMMIT_FAILED', 'the SSR conductor refused the commit', {
          details: { messages },
          hint: 'Fix the validation errors listed, then commit again.',
        });
      }
    },
    async revertCandidate() {
      await request('POST', '/config/revertToRunning', {});
    },
    async migrateRouter(router, addresses, o = {}) {
      await runPcli(pcli, migrateWords(router, addresses, o));
    },
    async service(action) {
      if (!options.service128t) throw new RecoveryError('CONFIG_MISSING', 'no 128T service control is configured');
      await (action === 'stop' ? options.service128t.stop() : options.service128t.start());
    },
  };
}

function messagesOf(out: unknown): string[] {
  if (!Array.isArray(out)) return [];
  return out.map((m: { message?: unknown }) => String(m?.message ?? JSON.stringify(m)));
}

async function readSystem(request: Request): Promise<SsrSystemInfo> {
  const s = (await request('GET', '/system')) as { router?: unknown; softwareVersion?: unknown } | undefined;
  return {
    ...(typeof s?.router === 'string' ? { router: s.router } : {}),
    ...(typeof s?.softwareVersion === 'string' ? { softwareVersion: s.softwareVersion } : {}),
  };
}

async function readAssets(request: Request): Promise<AssetState[]> {
  const out = (await request('POST', '/graphql', { query: ASSETS_QUERY })) as GraphQlAssets | undefined;
  const edges = out?.data?.allAuthorities?.edges;
  if (!Array.isArray(edges)) {
    throw new RecoveryError('SSR_API_FAILED', 'SSR GraphQL assets answer has no allAuthorities.edges', {
      details: { errors: out?.errors },
    });
  }
  return edges
    .flatMap((e) => e?.node?.assets ?? [])
    .map((a) => ({
      routerName: String(a.routerName ?? ''),
      nodeName: String(a.nodeName ?? ''),
      assetId: String(a.assetId ?? ''),
      status: String(a.status ?? 'unknown').toLowerCase(),
      ...(a.text ? { text: String(a.text) } : {}),
    }));
}

async function readAuthority(request: Request): Promise<AuthorityFacts> {
  const a = (await request('GET', '/config/running/authority')) as Record<string, unknown> | undefined;
  if (!a || typeof a !== 'object') throw new RecoveryError('SSR_API_FAILED', 'SSR API answered no authority');
  const addresses = Array.isArray(a['conductor-address']) ? a['conductor-address'].map(String) : [];
  const routers: ConfiguredRouter[] = (Array.isArray(a.router) ? a.router : []).map((r: Record<string, unknown>) => ({
    name: String(r?.name ?? ''),
    nodes: (Array.isArray(r?.node) ? r.node : []).map((n: Record<string, unknown>) => ({
      name: String(n?.name ?? ''),
      ...(typeof n?.['asset-id'] === 'string' ? { assetId: n['asset-id'] } : {}),
    })),
  }));
  return { ...(typeof a.name === 'string' ? { name: a.name } : {}), conductorAddresses: addresses, routers };
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
      cause: err,
      details: { path },
      hint: `Create ${path} (mode 0600) holding only the secret.`,
    });
  }
}
