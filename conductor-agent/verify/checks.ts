/**
 * Post-recovery verification (the seed's "Verify Migration", reference/ssr.md §1.6, §7): the
 * conductor's ports 930/4505/4506 accept connections, routers reach Connected then Running, and
 * their minions answer. Each check is a function of injected ports, so the same code runs against
 * a real conductor, the sandbox and tests.
 */
import { connect } from 'node:net';
import type { Clock } from '../../shared/ports/clock.js';
import { assetPhase, type AssetState, type SsrConductor } from '../ssr/conductor.js';

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  summary: string;
  details?: Record<string, unknown>;
}

/** TCP reachability of `host:port`, resolved true/false within `timeoutMs`. */
export function tcpReachable(host: string, port: number, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.removeAllListeners();
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Every conductor host answers on every port. */
export async function checkPorts(hosts: string[], ports: number[], probe = tcpReachable): Promise<CheckResult> {
  if (hosts.length === 0)
    return {
      name: 'ports',
      status: 'skip',
      summary: 'no conductor address known (global.init has no conductor entry)',
    };
  const results: Array<{ host: string; port: number; open: boolean }> = [];
  await Promise.all(
    hosts.flatMap((host) => ports.map(async (port) => results.push({ host, port, open: await probe(host, port) }))),
  );
  results.sort((a, b) => a.host.localeCompare(b.host) || a.port - b.port);
  const closed = results.filter((r) => !r.open);
  return {
    name: 'ports',
    status: closed.length ? 'fail' : 'pass',
    summary: closed.length
      ? `not reachable: ${closed.map((r) => `${r.host}:${r.port}`).join(', ')} (open them on the conductor and any firewall in front of it)`
      : `${results.length} port(s) reachable on ${hosts.join(', ')}`,
    details: { ports: results },
  };
}

export interface RouterWaitOptions {
  ssr: SsrConductor;
  clock: Clock;
  /** Routers that must be running (default: every asset the conductor lists). */
  routers?: string[] | undefined;
  /** How long to wait for Running. */
  timeoutMs: number;
  pollMs?: number;
  /** Called on every status change (progress output). */
  onChange?: (asset: AssetState) => void;
}

/** Routers reach Running (seen Connected on the way when the conductor shows it). */
export async function checkRoutersRunning(options: RouterWaitOptions): Promise<CheckResult> {
  const deadline = options.clock.now() + options.timeoutMs;
  const seen = new Map<string, Set<string>>();
  const last = new Map<string, AssetState>();
  for (;;) {
    let assets: AssetState[];
    try {
      assets = await options.ssr.assets();
    } catch (err) {
      if (options.clock.now() >= deadline) {
        return { name: 'routers', status: 'fail', summary: `the SSR API did not answer: ${(err as Error).message}` };
      }
      await options.clock.sleep(options.pollMs ?? 1000);
      continue;
    }
    for (const a of assets) {
      const key = `${a.routerName}/${a.nodeName}`;
      if (last.get(key)?.status !== a.status) options.onChange?.(a);
      last.set(key, a);
      const phases = seen.get(key) ?? new Set<string>();
      phases.add(assetPhase(a.status));
      seen.set(key, phases);
    }
    const wanted = options.routers ?? [...new Set(assets.map((a) => a.routerName))];
    const missing = wanted.filter((r) => !assets.some((a) => a.routerName === r));
    const notRunning = assets.filter((a) => wanted.includes(a.routerName) && assetPhase(a.status) !== 'running');
    if (missing.length === 0 && notRunning.length === 0) {
      return {
        name: 'routers',
        status: 'pass',
        summary: `${wanted.length} router(s) running`,
        details: {
          assets: [...last.values()].filter((a) => wanted.includes(a.routerName)),
          phasesSeen: Object.fromEntries([...seen].map(([k, v]) => [k, [...v]])),
        },
      };
    }
    if (options.clock.now() >= deadline) {
      return {
        name: 'routers',
        status: 'fail',
        summary: `not running after ${Math.round(options.timeoutMs / 1000)} s: ${[...missing.map((m) => `${m} (unknown to the conductor)`), ...notRunning.map((a) => `${a.routerName}/${a.nodeName} (${a.status})`)].join(', ')}`,
        details: { assets: [...last.values()] },
      };
    }
    await options.clock.sleep(options.pollMs ?? 1000);
  }
}

/** Port over "which minions answer test.ping" (salt-api `local` in production). */
export type MinionPing = (ids: string[] | undefined) => Promise<Record<string, boolean>>;

/** Every minion answers (a minion that does not answer is `false` in salt-api's `local` result). */
export async function checkMinions(ping: MinionPing | undefined, ids?: string[]): Promise<CheckResult> {
  if (!ping)
    return { name: 'minions', status: 'skip', summary: 'salt-api is not configured (saltApi.username / passwordFile)' };
  let answers: Record<string, boolean>;
  try {
    answers = await ping(ids);
  } catch (err) {
    return {
      name: 'minions',
      status: 'fail',
      summary: `salt-api call failed: ${(err as Error).message}`,
      details: { code: (err as { code?: unknown }).code },
    };
  }
  const expected = ids ?? Object.keys(answers);
  const silent = expected.filter((id) => answers[id] !== true);
  return {
    name: 'minions',
    status: silent.length || expected.length === 0 ? 'fail' : 'pass',
    summary:
      expected.length === 0
        ? 'no minion answered'
        : silent.length
          ? `not answering: ${silent.join(', ')}`
          : `${expected.length} minion(s) answered test.ping`,
    details: { answers },
  };
}
