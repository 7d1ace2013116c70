/**
 * `verify`: ports, routers Running, minions answering → one report. Composition of the checks in
 * checks.ts with the ports built from configuration by the caller.
 */
import { readFile } from 'node:fs/promises';
import { conductorHosts, CONDUCTOR_FILES, type GlobalInit } from '../../shared/ssr/layout.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { SsrConductor, AssetState } from '../ssr/conductor.js';
import { checkMinions, checkPorts, checkRoutersRunning, type CheckResult, type MinionPing } from './checks.js';

export interface VerifyOptions {
  /** Resolve a system path under the root prefix. */
  path: (systemPath: string) => string;
  ports: number[];
  /** Explicit conductor hosts; default from global.init. */
  hosts?: string[] | undefined;
  ssr?: SsrConductor | undefined;
  ping?: MinionPing | undefined;
  routers?: string[] | undefined;
  /** Minion ids to ping (default: every minion that answers). */
  minions?: string[] | undefined;
  timeoutMs: number;
  pollMs?: number;
  clock: Clock;
  onAsset?: (a: AssetState) => void;
  probe?: (host: string, port: number) => Promise<boolean>;
}

export interface VerifyReport {
  ok: boolean;
  checks: CheckResult[];
  durationMs: number;
}

/** Conductor hosts from `<root>/etc/128technology/global.init` (empty when absent or unreadable). */
export async function hostsFromGlobalInit(path: (p: string) => string): Promise<string[]> {
  try {
    return conductorHosts(JSON.parse(await readFile(path(CONDUCTOR_FILES.globalInit), 'utf8')) as GlobalInit);
  } catch {
    return [];
  }
}

export async function runVerify(options: VerifyOptions): Promise<VerifyReport> {
  const started = options.clock.now();
  const hosts = options.hosts?.length ? options.hosts : await hostsFromGlobalInit(options.path);
  const checks: CheckResult[] = [await checkPorts(hosts, options.ports, options.probe)];
  checks.push(
    options.ssr
      ? await checkRoutersRunning({
          ssr: options.ssr,
          clock: options.clock,
          routers: options.routers,
          timeoutMs: options.timeoutMs,
          pollMs: options.pollMs ?? 1000,
          ...(options.onAsset ? { onChange: options.onAsset } : {}),
        })
      : { name: 'routers', status: 'skip', summary: 'the SSR API is not configured (ssr.username / ssr.passwordFile)' },
  );
  checks.push(await checkMinions(options.ping, options.minions));
  return { ok: checks.every((c) => c.status !== 'fail'), checks, durationMs: options.clock.now() - started };
}

/** Human rendering shared by `verify` and the drill. */
export function renderChecks(checks: CheckResult[]): string {
  const mark = { pass: 'ok  ', fail: 'FAIL', skip: 'skip' } as const;
  return checks.map((c) => `  [${mark[c.status]}] ${c.name.padEnd(8)} ${c.summary}`).join('\n');
}
