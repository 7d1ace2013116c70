/**
 * How the client reaches salt-api: node-fetch with a keep-alive agent, TLS trust pinned to a CA or
 * certificate (`saltApi.caFile`), and plain HTTP refused unless the host is loopback or the caller
 * opts in. The fetch function is a port so tests can inject failures.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { isIP } from 'node:net';
import fetch, { type RequestInit, type Response } from 'node-fetch';
import { ConfigError } from '../../shared/errors.js';

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface TransportOptions {
  /** salt-api base URL, e.g. `https://127.0.0.1:8000`. */
  url: string;
  /** PEM CA bundle or the server certificate itself (pinned: system CAs are not used). */
  ca?: string | Buffer;
  /** Allow `http://` to a non-loopback host (never the default: credentials would travel in clear). */
  allowInsecureHttp?: boolean;
  /** Injected fetch (tests); default node-fetch. */
  fetch?: FetchLike;
}

export interface Transport {
  baseUrl: string;
  fetch: FetchLike;
  agent: HttpAgent | HttpsAgent;
  close(): void;
}

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

export function createTransport(o: TransportOptions): Transport {
  let u: URL;
  try {
    u = new URL(o.url);
  } catch (err) {
    throw new ConfigError('CONFIG_INVALID', `saltApi.url is not a URL: ${o.url}`, { cause: err });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError('CONFIG_INVALID', `saltApi.url must be http(s), got ${u.protocol}`);
  }
  if (u.protocol === 'http:' && !isLoopbackHost(u.hostname) && !o.allowInsecureHttp) {
    throw new ConfigError(
      'CONFIG_INVALID',
      `refusing plain http to ${u.hostname}: salt-api credentials would travel unencrypted`,
      {
        hint: 'Use https with saltApi.caFile, or point saltApi.url at a loopback address (127.0.0.1).',
      },
    );
  }
  const agent =
    u.protocol === 'https:'
      ? new HttpsAgent({ keepAlive: true, maxSockets: 16, ...(o.ca !== undefined ? { ca: o.ca } : {}) })
      : new HttpAgent({ keepAlive: true, maxSockets: 16 });
  const base = o.fetch ?? (fetch as unknown as FetchLike);
  return {
    baseUrl: u.toString().replace(/\/+$/, ''),
    agent,
    fetch: (url, init) => base(url, { ...init, agent }),
    close: () => agent.destroy(),
  };
}

export type { RequestInit, Response };
