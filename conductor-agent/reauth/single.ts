/**
 * Re-authenticate one router through its agent: sign a `reauth` command carrying the fingerprint
 * of the conductor's current `master.pub` (computed as Salt computes it), wait for the router's
 * signed report, check that it pinned and cached exactly that fingerprint, and then confirm from
 * the master's side: success is what the other side confirms (DESIGN.md rule 7), so with `ping`
 * (salt-api `test.ping`) the router counts only once its minion answers this master. The
 * fleet-scale orchestrator (batches, rate limit, SSH fallback) builds on this.
 */
import { RecoveryError } from '../../shared/errors.js';
import { pemFingerFile } from '../../shared/salt/fingerprint.js';
import { systemClock, type Clock } from '../../shared/ports/clock.js';
import type { ReauthOutcome } from '../../shared/protocol/messages.js';
import type { AgentServer } from '../ws/server.js';
import type { VerifiedReport } from '../ws/command-sender.js';

export interface ReauthRouterOptions {
  server: Pick<AgentServer, 'sendCommand'>;
  routerId: string;
  /** The fingerprint to pin; or give `masterPubPath` to compute it. */
  fingerprint?: string;
  masterPubPath?: string;
  /** How long the router waits for its minion (default 120 s). */
  routerTimeoutMs?: number;
  /** Extra time for the report to arrive (default 30 s). */
  marginMs?: number;
  action?: 'reauth' | 'rollback';
  /**
   * The master's side: does the minion answer `test.ping` through salt-api now? Asked after the
   * router reports success, until it answers or `confirmTimeoutMs` passes (the minion's publish
   * channel connects a little after its sign-in).
   */
  ping?: ((routerId: string) => Promise<boolean>) | undefined;
  /** How long the master-side confirmation may take (default 60 s). */
  confirmTimeoutMs?: number;
  /** Pause between master-side pings (default 2 s). */
  confirmPollMs?: number;
  clock?: Pick<Clock, 'now' | 'sleep'>;
}

export interface ReauthRouterResult {
  routerId: string;
  action: 'reauth' | 'rollback';
  ok: boolean;
  fingerprint?: string | undefined;
  outcome: ReauthOutcome;
  /** The signed report (envelope kept for audit) and the key fingerprint that verified it. */
  report: VerifiedReport;
  /** reauth with `ping`: the minion answered test.ping through salt-api afterwards. */
  masterConfirmed?: boolean | undefined;
}

/**
 * Send one signed command and return the router's verified outcome. Resolves with `ok: false` when
 * the router reports a failure (its evidence is in `outcome`); throws for transport problems
 * (AGENT_NOT_ENROLLED, AGENT_UNREACHABLE, AGENT_TIMEOUT, PROTOCOL_* refusals from the router).
 */
export async function reauthRouter(o: ReauthRouterOptions): Promise<ReauthRouterResult> {
  const action = o.action ?? 'reauth';
  let fingerprint = o.fingerprint;
  if (action === 'reauth' && !fingerprint) {
    if (!o.masterPubPath) throw new RecoveryError('USAGE', 'reauthRouter needs a fingerprint or masterPubPath');
    fingerprint = await pemFingerFile(o.masterPubPath);
  }
  const routerTimeoutMs = o.routerTimeoutMs ?? 120_000;
  const report = await o.server.sendCommand(
    o.routerId,
    action === 'reauth' ? { name: 'reauth', fingerprint, timeoutMs: routerTimeoutMs } : { name: 'rollback' },
    { reportTimeoutMs: routerTimeoutMs + (o.marginMs ?? 30_000) },
  );
  if (report.body.kind !== action) {
    throw new RecoveryError(
      'PROTOCOL_MALFORMED',
      `router ${o.routerId} answered a ${action} with a ${report.body.kind} report`,
      { details: { router: o.routerId } },
    );
  }
  const outcome = report.body.outcome;
  let ok = outcome.ok;
  if (ok && action === 'reauth' && (outcome.fingerprint !== fingerprint || outcome.cachedFingerprint !== fingerprint)) {
    // The signed report must show the minion holds exactly the key we asked for.
    ok = false;
    outcome.code = 'REAUTH_FAILED';
    outcome.message = `router reports fingerprint ${outcome.cachedFingerprint ?? 'none'}, expected ${fingerprint}`;
  }
  let masterConfirmed: boolean | undefined;
  if (ok && action === 'reauth' && o.ping) {
    const clock = o.clock ?? systemClock;
    masterConfirmed = await confirmFromMaster(
      o.routerId,
      o.ping,
      clock,
      o.confirmTimeoutMs ?? 60_000,
      o.confirmPollMs ?? 2_000,
    );
    if (!masterConfirmed) {
      ok = false;
      outcome.code = 'REAUTH_FAILED';
      outcome.message = `router ${o.routerId} reports success, but its minion does not answer test.ping through salt-api`;
    }
  }
  const confirmed = masterConfirmed === undefined ? {} : { masterConfirmed };
  return { routerId: o.routerId, action, ok, fingerprint, outcome, report, ...confirmed };
}

/**
 * A result without its signed report (the fleet wave's `brief` request): the report carries the same
 * body three more times (parsed, in its payload, base64 in its envelope), and the wave keeps only the
 * outcome and its evidence. The fingerprint of the key that verified the report stays.
 */
export function briefResult(r: ReauthRouterResult): Omit<ReauthRouterResult, 'report'> & { verifiedWith: string } {
  const { report, ...rest } = r;
  return { ...rest, verifiedWith: report.verifiedWith };
}

/** Ask the master until the minion answers or the time is up; a failing call counts as no answer. */
async function confirmFromMaster(
  routerId: string,
  ping: (id: string) => Promise<boolean>,
  clock: Pick<Clock, 'now' | 'sleep'>,
  timeoutMs: number,
  pollMs: number,
): Promise<boolean> {
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    if (await ping(routerId).catch(() => false)) return true;
    if (clock.now() + pollMs > deadline) return false;
    await clock.sleep(pollMs);
  }
}
