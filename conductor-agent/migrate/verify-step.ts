/**
 * Step 5, verify: the router ports listen on every new address, every migrated router is Running on the
 * new conductor (as its API says, not as we hope), and their minions answer `test.ping` through the new
 * conductor's salt-api when one is configured — asked again for the silent ones until
 * `migrate.pingTimeoutSeconds`, since a minion signs in a little after its router shows Running. A
 * router whose minions stay silent is named (`silent`), so the run reports it failed rather than done.
 * Also what `verify --conductor` runs on its own.
 */
import { checkPorts, type CheckResult, type MinionPing } from '../verify/checks.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { ConfiguredRouter } from '../ssr/conductor.js';
import type { AssetWatch } from './asset-watch.js';
import type { MigrateDeps } from './deps.js';
import { allRunning } from './plan.js';

export interface VerifyOutcome {
  checks: CheckResult[];
  /** Router → its minion ids that never answered test.ping through the new salt-api. */
  silent: Map<string, string[]>;
  /** The last salt-api error, if the calls failed. */
  pingError?: string | undefined;
}

/** Ping until every id answered or the deadline passed; the ids that never answered. */
export async function pingUntil(
  ping: MinionPing,
  ids: readonly string[],
  o: { clock: Clock; timeoutMs: number; retryMs: number },
): Promise<{ silent: string[]; error?: string | undefined }> {
  const deadline = o.clock.now() + o.timeoutMs;
  let waiting = [...new Set(ids)];
  let error: string | undefined;
  for (;;) {
    try {
      const answers = await ping(waiting);
      waiting = waiting.filter((id) => answers[id] !== true);
      error = undefined;
    } catch (err) {
      error = `test.ping through salt-api failed: ${(err as Error).message}`;
    }
    if (waiting.length === 0 || o.clock.now() + o.retryMs > deadline) return { silent: waiting, error };
    await o.clock.sleep(o.retryMs);
  }
}

async function minionsCheck(d: MigrateDeps, routers: ConfiguredRouter[], out: VerifyOutcome): Promise<CheckResult> {
  const idsOf = (r: ConfiguredRouter): string[] => r.nodes.map((n) => n.assetId ?? '').filter(Boolean);
  const ids = routers.flatMap(idsOf);
  if (!d.ping || ids.length === 0) {
    return {
      name: 'minions',
      status: 'skip',
      summary: d.ping ? 'no minion to ping' : "the new conductor's salt-api is not configured (migrate.to.saltApiUrl)",
    };
  }
  const retryMs = Math.min(1000, Math.max(50, d.settings.pollMs));
  const { silent, error } = await pingUntil(d.ping, ids, {
    clock: d.clock,
    timeoutMs: d.settings.pingTimeoutMs,
    retryMs,
  });
  const quiet = new Set(silent);
  for (const r of routers) {
    const s = idsOf(r).filter((id) => quiet.has(id));
    if (s.length) out.silent.set(r.name, s);
  }
  out.pingError = error;
  return {
    name: 'minions',
    status: silent.length ? 'fail' : 'pass',
    summary: silent.length
      ? `not answering test.ping through the new salt-api: ${silent.slice(0, 20).join(', ')}` +
        `${silent.length > 20 ? ` (+${silent.length - 20})` : ''}${error ? ` (${error})` : ''}`
      : `${ids.length} minion(s) answered test.ping through the new salt-api`,
    ...(silent.length ? { details: { silent, ...(error ? { error } : {}) } } : {}),
  };
}

export async function verifyStep(
  d: MigrateDeps,
  watch: AssetWatch,
  routers: ConfiguredRouter[],
): Promise<VerifyOutcome> {
  const out: VerifyOutcome = { checks: [await checkPorts(d.args.to, d.settings.ports, d.probe)], silent: new Map() };
  await watch.refresh();
  const notRunning = routers.filter((r) => !allRunning(watch.seen(r.name))).map((r) => r.name);
  out.checks.push({
    name: 'routers',
    status: notRunning.length ? 'fail' : 'pass',
    summary: notRunning.length
      ? `not Running on the new conductor: ${notRunning.slice(0, 20).join(', ')}`
      : `${routers.length} router(s) Running on the new conductor`,
    ...(notRunning.length ? { details: { notRunning } } : {}),
  });
  out.checks.push(await minionsCheck(d, routers, out));
  return out;
}
