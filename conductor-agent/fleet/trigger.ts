/**
 * The daemon's automatic re-authentication (off by default: `reauth.auto.enabled`). Routers whose
 * agents report `stale-master-key` are collected for `debounceSeconds`; then, if policy allows —
 * at most `maxRouters` at once, inside the UTC time window, no other wave running — a rate-limited
 * wave runs over exactly those routers, through the agent channel in this process, with the key
 * gate and `test.ping` as in `conductor-agent reauth`. Otherwise it logs why and waits for an
 * operator. `decideTrigger` is the pure policy.
 */
import type { ConductorConfig } from '../../shared/config/schema.js';
import type { Logger } from '../../shared/log/logger.js';
import type { Clock } from '../../shared/ports/clock.js';
import { systemRandom } from '../../shared/ports/random.js';
import { hostname } from 'node:os';
import type { AgentService } from '../ws/service.js';
import type { VerifiedReport } from '../ws/command-sender.js';

export interface TriggerPolicy {
  maxRouters: number;
  /** `HH:MM-HH:MM` UTC; empty = any time. A window may wrap midnight. */
  window?: string | undefined;
}

export type TriggerDecision = { run: true; routers: string[] } | { run: false; why: string };

/** Pure: may a wave start now for these stale routers? */
export function decideTrigger(
  stale: readonly string[],
  policy: TriggerPolicy,
  nowMs: number,
  busy: boolean,
): TriggerDecision {
  if (stale.length === 0) return { run: false, why: 'no stale routers' };
  if (busy) return { run: false, why: 'a wave is running' };
  if (stale.length > policy.maxRouters) {
    return {
      run: false,
      why:
        `${stale.length} routers are stale, more than reauth.auto.maxRouters (${policy.maxRouters}): ` +
        'run conductor-agent reauth --all after checking why',
    };
  }
  if (policy.window && !inWindow(policy.window, nowMs))
    return { run: false, why: `outside the window ${policy.window} UTC` };
  return { run: true, routers: [...stale].sort() };
}

export function inWindow(window: string, nowMs: number): boolean {
  const m = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(window);
  if (!m) return false;
  const d = new Date(nowMs);
  const now = d.getUTCHours() * 60 + d.getUTCMinutes();
  const from = Number(m[1]) * 60 + Number(m[2]);
  const to = Number(m[3]) * 60 + Number(m[4]);
  return from <= to ? now >= from && now < to : now >= from || now < to;
}

export interface TriggerServiceOptions {
  config: ConductorConfig;
  path: (p: string) => string;
  agents: AgentService;
  logger: Logger;
  clock: Clock;
}

/** The daemon service: listens to verified reports, runs waves when the policy allows. */
export function createReauthTrigger(o: TriggerServiceOptions) {
  const log = o.logger.child({ component: 'reauth-trigger' });
  const auto = o.config.reauth.auto;
  const stale = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let busy = false;
  const onReport = (r: VerifiedReport): void => {
    if (r.body.kind !== 'trust') return;
    if (r.body.trust.state === 'stale-master-key') stale.add(r.routerId);
    else stale.delete(r.routerId);
    timer ??= o.clock.setTimeout(() => {
      timer = undefined;
      void tick();
    }, auto.debounceSeconds * 1000);
  };
  const tick = async (): Promise<void> => {
    const d = decideTrigger([...stale], { maxRouters: auto.maxRouters, window: auto.window }, o.clock.now(), busy);
    if (!d.run) {
      if (stale.size) log.warn('automatic re-authentication not started', { why: d.why, stale: stale.size });
      return;
    }
    busy = true;
    for (const id of d.routers) stale.delete(id);
    try {
      const report = await runWave(o, d.routers);
      log.info('automatic re-authentication wave finished', { waveId: report.waveId, ...report.totals });
    } catch (err) {
      log.error('automatic re-authentication wave failed', { err });
    } finally {
      busy = false;
    }
  };
  return {
    name: 'reauth-trigger',
    async start() {
      o.agents.server?.on('report', onReport);
      log.info('automatic re-authentication on', { maxRouters: auto.maxRouters, window: auto.window, rate: auto.rate });
    },
    async stop() {
      o.agents.server?.off('report', onReport);
      if (timer) o.clock.clearTimeout(timer);
    },
  };
}

async function runWave(o: TriggerServiceOptions, routers: string[]) {
  const { fleetReauth } = await import('./wave.js');
  const { pkiKeyGate } = await import('./key-gate.js');
  const { reauthRouter } = await import('../reauth/single.js');
  const { saltApiClientFromConfig } = await import('../saltapi/from-config.js');
  const { saltApiMinionProbe } = await import('../keys/minion-probe.js');
  const { pemFingerFile } = await import('../../shared/salt/fingerprint.js');
  const server = o.agents.server!;
  const pkiDir = o.path(o.config.salt.pkiDir);
  const client = await saltApiClientFromConfig(o.config, { path: o.path, logger: o.logger });
  const r = o.config.reauth;
  return fleetReauth({
    selection: { ids: routers },
    resume: false,
    dryRun: false,
    rate: r.auto.rate,
    concurrency: r.concurrency,
    routerTimeoutMs: r.routerTimeoutSeconds * 1000,
    verifyTimeoutMs: r.verifyTimeoutSeconds * 1000,
    acceptNewHostKeys: false,
    conductor: { id: hostname(), agentKey: o.agents.identity?.signingFingerprint },
    masterFingerprint: await pemFingerFile(`${pkiDir}/master.pub`),
    pkiDir,
    journalDir: o.path(r.journalDir),
    random: systemRandom,
    sources: {
      fleet: async () => server.fleet(),
      reported: async () =>
        new Map((o.agents.registry?.list() ?? []).filter((e) => e.reported).map((e) => [e.minionId, e.reported!])),
      sshRoutes: async () => new Map(),
    },
    ports: {
      agent: {
        async reauth(routerId, fingerprint, timeoutMs) {
          const res = await reauthRouter({ server, routerId, fingerprint, routerTimeoutMs: timeoutMs });
          return {
            ok: res.ok,
            code: res.outcome.code,
            message: res.outcome.message,
            evidence: res.outcome.evidence,
            timings: res.outcome.timings,
          };
        },
      },
      gate: pkiKeyGate(pkiDir),
      pinger: saltApiMinionProbe(client, { timeoutSeconds: 5 }),
      clock: o.clock,
    },
  });
}
