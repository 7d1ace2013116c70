/**
 * Step 4, one router: `migrate force conductor <new…> router <r>` on the old conductor, then Connected on
 * the new one, the trust step (re-pin when the master key changed), the verified key gate for each of
 * its nodes' minion keys, then Running — each stage with its own timeout and journal record. A router
 * already Running on the new conductor is skipped; a router that fails is reported with evidence and,
 * when asked, migrated back to the old conductor.
 */
import { RecoveryError, asRecoveryError } from '../../shared/errors.js';
import { assetPhase, type ConfiguredRouter } from '../ssr/conductor.js';
import type { AssetWatch } from './asset-watch.js';
import type { MigrateDeps } from './deps.js';
import type { Journal, JournalState } from './journal.js';
import type { KeyGate } from './key-gate.js';
import { allConnected, allRunning } from './plan.js';
import type { TrustDecision } from './trust.js';
import type { RouterResult } from './types.js';

export interface RouterContext {
  d: MigrateDeps;
  journal: Journal;
  state: JournalState;
  oldWatch: AssetWatch;
  newWatch: AssetWatch;
  gate: KeyGate;
  trust: TrustDecision;
}

/** Listed on the conductor and not down: the router follows it (pending, connected, running…). */
const follows = (w: AssetWatch, router: string): boolean =>
  w.seen(router).length > 0 && w.seen(router).some((a) => assetPhase(a.status) !== 'down');

export async function migrateRouter(c: RouterContext, r: ConfiguredRouter): Promise<RouterResult> {
  const prior = c.state.routers.get(r.name);
  if (prior?.phase === 'router-done') {
    return { router: r.name, outcome: 'migrated', timings: (prior.data.timings as RouterResult['timings']) ?? {} };
  }
  if (prior?.phase === 'router-rolling-back')
    return rollBack(c, r, {
      code: 'MIGRATE_ROUTER_FAILED',
      message: String(prior.data.message ?? 'interrupted during rollback'),
    });
  const started = c.d.clock.now();
  if (!prior && allRunning(c.newWatch.seen(r.name))) {
    await c.journal.router(r.name, 'router-done', { skipped: true, timings: {} });
    return { router: r.name, outcome: 'skipped', timings: {} };
  }
  try {
    return await forward(c, r, started);
  } catch (err) {
    const e = asRecoveryError(err);
    const error = { code: e.code, message: e.message, evidence: e.details };
    await c.journal.router(r.name, 'router-failed', { code: e.code, message: e.message });
    c.d.logger.warn('router migration failed', { router: r.name, code: e.code, error: e.message });
    if (c.d.args.rollbackOnFailure) return rollBack(c, r, error);
    return { router: r.name, outcome: 'failed', timings: { totalMs: c.d.clock.now() - started }, error };
  }
}

async function forward(c: RouterContext, r: ConfiguredRouter, started: number): Promise<RouterResult> {
  const { d } = c;
  const timings: RouterResult['timings'] = {};
  if (!follows(c.newWatch, r.name)) {
    await c.journal.router(r.name, 'router-migrating', { to: d.args.to });
    await sendMigrate(c, r.name);
  }
  await c.newWatch.waitFor(r.name, 'Connected', d.settings.connectedTimeoutMs, allConnected);
  timings.connectedMs = d.clock.now() - started;
  c.journal.note(r.name, 'router-connected', { connectedMs: timings.connectedMs });
  const ids = r.nodes.map((n) => n.assetId ?? '').filter(Boolean);
  if (c.trust.mode === 'repin') await repin(c, r.name, ids);
  // A re-pin has its own timeout (reauth.*): the key's deadline is never shorter than one Running timeout after it.
  const deadline = Math.max(
    started + d.settings.connectedTimeoutMs + d.settings.runningTimeoutMs,
    d.clock.now() + d.settings.runningTimeoutMs,
  );
  const keys = await gateKeys(c, r.name, ids, deadline);
  c.journal.note(r.name, 'router-key-accepted', { keys });
  await c.newWatch.waitFor(r.name, 'Running', d.settings.runningTimeoutMs, allRunning);
  timings.runningMs = d.clock.now() - started;
  c.journal.note(r.name, 'router-running', { runningMs: timings.runningMs });
  timings.totalMs = d.clock.now() - started;
  await c.journal.router(r.name, 'router-done', { timings });
  return { router: r.name, outcome: 'migrated', timings, keys };
}

/**
 * Repin mode: after the router follows the new conductor (its minion still holds the old master key
 * and refuses the new one), pin the new master's fingerprint through the fleet path. Journalled on
 * both sides, so a run killed in between repeats it (the fleet path skips a minion that already
 * answers the new master, and a second signed pin of the same key is harmless).
 */
async function repin(c: RouterContext, router: string, ids: string[]): Promise<void> {
  if (c.state.routers.get(router)?.history.includes('router-repinned')) return;
  const fingerprint = c.trust.newFingerprint;
  await c.journal.router(router, 'router-repinning', { fingerprint, minions: ids });
  await c.d.repin.repin(router, ids, fingerprint);
  c.journal.note(router, 'router-repinned', { fingerprint });
}

/** A router re-pinned to the new key and sent back must trust the old key again, or it refuses the old master. */
async function repinBack(c: RouterContext, r: ConfiguredRouter): Promise<void> {
  const { d } = c;
  await c.oldWatch.waitFor(r.name, 'Connected', d.settings.connectedTimeoutMs, allConnected);
  const ids = r.nodes.map((n) => n.assetId ?? '').filter(Boolean);
  await d.repin.repin(r.name, ids, c.trust.oldFingerprint, 'old');
}

/** The PCLI migrate; a refusal is forgiven only when the router is seen following the new conductor. */
async function sendMigrate(c: RouterContext, router: string): Promise<void> {
  try {
    await c.d.oldSsr.migrateRouter(router, c.d.args.to, { force: true });
  } catch (err) {
    await c.newWatch.refresh();
    if (follows(c.newWatch, router)) return;
    throw err;
  }
}

/** Every node's minion key through the verified gate; waits for the key to show up until `deadline`. */
async function gateKeys(
  c: RouterContext,
  router: string,
  ids: string[],
  deadline: number,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const id of ids) {
    for (;;) {
      const r = await c.gate.check(id);
      if (r !== 'waiting') {
        out[id] = r;
        break;
      }
      if (c.d.clock.now() >= deadline) {
        throw new RecoveryError(
          'MIGRATE_ROUTER_FAILED',
          `the minion key of ${id} (router ${router}) never reached the new master`,
          { details: { router, id } },
        );
      }
      await c.d.clock.sleep(c.d.settings.pollMs);
    }
  }
  return out;
}

/** Migrate the router back to the old conductor (the PCLI on the conductor it now follows). */
async function rollBack(
  c: RouterContext,
  r: ConfiguredRouter,
  error: NonNullable<RouterResult['error']>,
): Promise<RouterResult> {
  const { d } = c;
  const started = d.clock.now();
  await Promise.all([c.newWatch.refresh(), c.oldWatch.refresh()]);
  if (!follows(c.newWatch, r.name) && follows(c.oldWatch, r.name)) {
    await c.journal.router(r.name, 'router-rolled-back', { message: 'never left the old conductor' });
    return {
      router: r.name,
      outcome: 'rolled-back',
      timings: {},
      error,
      rollback: { ok: true, message: 'the router never left the old conductor' },
    };
  }
  await c.journal.router(r.name, 'router-rolling-back', { message: error.message });
  try {
    if (!follows(c.oldWatch, r.name)) await d.newSsr.migrateRouter(r.name, d.args.from, { force: true });
    if (c.trust.mode === 'repin') await repinBack(c, r);
    await c.oldWatch.waitFor(
      r.name,
      'Running',
      d.settings.connectedTimeoutMs + d.settings.runningTimeoutMs,
      allRunning,
    );
    await c.journal.router(r.name, 'router-rolled-back', {});
    return {
      router: r.name,
      outcome: 'rolled-back',
      timings: { totalMs: d.clock.now() - started },
      error,
      rollback: { ok: true },
    };
  } catch (err) {
    const e = asRecoveryError(err);
    await c.journal.router(r.name, 'router-failed', { code: e.code, message: `rollback: ${e.message}` });
    return {
      router: r.name,
      outcome: 'failed',
      timings: { totalMs: d.clock.now() - started },
      error,
      rollback: { ok: false, message: e.message },
    };
  }
}
