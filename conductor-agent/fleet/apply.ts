/**
 * Running a planned wave: routers are started at most `rate` per second and `concurrency` at a
 * time; each goes through its routes in order (agent, then SSH) until one reaches it, while the key
 * gate watches for its pending key; it counts as done only when it answers `test.ping`. An abort
 * (Ctrl-C) stops starting routers; those in flight finish and the rest are reported not started.
 */
import { observeSink } from '../../shared/observe/sink.js';
import { RecoveryError } from '../../shared/errors.js';
import type { FaultSwitch } from '../../shared/fault.js';
import { GateTicker, type GateWatch } from './gate-ticker.js';
import type { PlanEntry, Route, WavePlan } from './plan.js';
import type { ChannelResult, WavePorts } from './ports.js';
import { RateLimiter, Slots } from './rate.js';
import type { OutcomeState, RouterOutcome } from './report.js';
import { BatchPinger } from './verify.js';

export interface WaveOptions {
  plan: WavePlan;
  ports: WavePorts;
  /** Starts per second; 0 = unlimited. */
  rate: number;
  concurrency: number;
  /** How long a router may take to re-authenticate on its side. */
  routerTimeoutMs: number;
  /** How long after its channel finished a router may take to answer test.ping. */
  verifyTimeoutMs: number;
  /** Key gate poll interval while a router is in flight (default 250 ms). */
  gatePollMs?: number;
  signal?: AbortSignal | undefined;
  /** Kill -9 points for the fault suite (shared/fault.ts). */
  fault?: FaultSwitch | undefined;
  /** Called after each router finishes. */
  onOutcome?: ((o: RouterOutcome) => void) | undefined;
}

export interface WaveResult {
  outcomes: RouterOutcome[];
  interrupted: boolean;
  /** Start times (ms) of the routers that were started, in order. */
  starts: number[];
}

/** Run the wave; never throws for a router's failure (it is in its outcome). */
export async function runWave(o: WaveOptions): Promise<WaveResult> {
  const { clock } = o.ports;
  const limiter = new RateLimiter(o.rate, clock);
  const slots = new Slots(o.concurrency);
  const pinger = new BatchPinger({ pinger: o.ports.pinger, clock });
  const gate = new GateTicker(o.ports.gate, clock, o.gatePollMs ?? 250);
  const outcomes = new Map<string, RouterOutcome>();
  const starts: number[] = [];
  const inFlight = new Set<Promise<void>>();
  const finish = async (out: RouterOutcome): Promise<void> => {
    outcomes.set(out.routerId, out);
    if (out.state === 'done' || out.state === 'failed') {
      observeSink().reauthFinished({
        outcome: out.state === 'done' ? 'ok' : 'failed',
        channel: String(out.channel ?? 'none'),
        code: out.code,
      });
    }
    if (out.state !== 'not-started') {
      await o.ports.record?.(out);
      o.fault?.reached('wave/recorded');
    }
    o.onOutcome?.(out);
  };
  let interrupted = false;
  for (const entry of o.plan.routers) {
    if (entry.action !== 'reauth') {
      await finish(staticOutcome(entry));
      continue;
    }
    if (o.signal?.aborted) {
      interrupted = true;
      break;
    }
    await slots.take();
    try {
      await limiter.acquire(o.signal);
    } catch {
      slots.release();
      interrupted = true;
      break;
    }
    if (o.signal?.aborted) {
      slots.release();
      interrupted = true;
      break;
    }
    starts.push(clock.now());
    o.fault?.reached('wave/started');
    const p: Promise<void> = runRouter(entry, o, pinger, gate)
      .catch((err: unknown) => failedOutcome(entry, 'none', err, {}))
      .then(finish)
      .finally(() => {
        slots.release();
        inFlight.delete(p);
      });
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  for (const entry of o.plan.routers) {
    if (!outcomes.has(entry.routerId))
      await finish({
        routerId: entry.routerId,
        state: 'not-started',
        channel: entry.channel,
        message: 'interrupted before it started',
      });
  }
  return { outcomes: o.plan.routers.map((r) => outcomes.get(r.routerId)!), interrupted, starts };
}

function staticOutcome(e: PlanEntry): RouterOutcome {
  if (e.action === 'skip') return { routerId: e.routerId, state: 'skipped', channel: 'none', message: e.reason };
  const impostor = e.blocked === 'impostor';
  return {
    routerId: e.routerId,
    state: impostor ? 'impostor' : 'blocked',
    channel: 'none',
    message: e.reason,
    code: impostor ? 'FLEET_KEY_MISMATCH' : e.blocked === 'key-rejected' ? 'REAUTH_REFUSED' : 'FLEET_NO_CHANNEL',
    minionKeyFingerprint: e.pendingFingerprint,
  };
}

function failedOutcome(
  e: PlanEntry,
  channel: RouterOutcome['channel'],
  err: unknown,
  timings: Record<string, number>,
): RouterOutcome {
  const code = err instanceof RecoveryError ? err.code : 'INTERNAL';
  return { routerId: e.routerId, state: 'failed', channel, code, message: (err as Error).message, timings };
}

/** Shared by a router's channel run and the gate's verdicts for it. */
interface RouterRun {
  entry: PlanEntry;
  t0: number;
  timings: Record<string, number>;
  expected: string | undefined;
  gate: 'waiting' | 'accepted' | 'mismatch' | 'unverified';
  gateFingerprint?: string | undefined;
  gateError?: string | undefined;
}

async function runRouter(
  entry: PlanEntry,
  o: WaveOptions,
  pinger: BatchPinger,
  gate: GateTicker,
): Promise<RouterOutcome> {
  const { clock } = o.ports;
  const run: RouterRun = {
    entry,
    t0: clock.now(),
    timings: {},
    expected: entry.expectedMinionFingerprint,
    gate: 'waiting',
  };
  const startedAt = new Date(run.t0).toISOString();
  gate.watch(gateWatch(run, o));
  try {
    const { result, route, fallbacks } = await throughRoutes(run, o);
    const channel: RouterOutcome['channel'] = route?.channel ?? 'none';
    const base = {
      routerId: entry.routerId,
      channel,
      fallbacks: fallbacks.length ? fallbacks : undefined,
      startedAt,
      timings: run.timings,
    };
    if (run.gate === 'mismatch') return impostor(run, base);
    if (!result?.ok) {
      const last = fallbacks.at(-1);
      if (result)
        return {
          ...base,
          state: 'failed',
          code: result.code ?? 'REAUTH_FAILED',
          message: result.message ?? `the router reported a failed re-authentication over ${channel}`,
          evidence: result.evidence,
        };
      return {
        ...base,
        state: 'failed',
        code: last?.code ?? 'FLEET_NO_CHANNEL',
        message: last?.message ?? 'no route reached the router',
      };
    }
    const ping = await pinger.confirm(entry.routerId, clock.now() + o.verifyTimeoutMs);
    run.timings.pinged = clock.now() - run.t0;
    if (ping.ok) {
      if (run.gate === 'accepted') await o.ports.gate.settle?.(entry.routerId);
      o.fault?.reached('wave/verified');
    }
    // The gate keeps watching during the ping: it may have seen a foreign key meanwhile.
    if ((run.gate as RouterRun['gate']) === 'mismatch') return impostor(run, base);
    const state: OutcomeState = ping.ok ? 'done' : 'failed';
    const out: RouterOutcome = {
      ...base,
      state,
      minionKeyFingerprint: run.gateFingerprint ?? run.expected,
      finishedAt: new Date(clock.now()).toISOString(),
    };
    if (!ping.ok) Object.assign(out, notAnswering(run, ping.error));
    return out;
  } finally {
    await gate.unwatch(entry.routerId);
  }
}

function notAnswering(run: RouterRun, error: string | undefined): Partial<RouterOutcome> {
  if (run.gate === 'unverified') {
    return {
      code: 'FLEET_KEY_UNVERIFIED',
      message:
        `its minion key ${run.gateFingerprint ?? ''} is pending and no signed report or pinned SSH read ` +
        'says what it should be; left pending (keys accept --verified)',
    };
  }
  return {
    code: 'FLEET_NOT_CONFIRMED',
    message: error ?? 'the router re-authenticated on its side but does not answer test.ping through salt-api',
  };
}

function impostor(run: RouterRun, base: Partial<RouterOutcome>): RouterOutcome {
  return {
    ...base,
    routerId: run.entry.routerId,
    state: 'impostor',
    code: 'FLEET_KEY_MISMATCH',
    minionKeyFingerprint: run.gateFingerprint,
    message:
      `possible impostor: the pending key ${run.gateFingerprint ?? '(unreadable)'} for ${run.entry.routerId} ` +
      `is not the reported ${run.expected}; left pending`,
  };
}

const FALLBACK_CODES = new Set([
  'AGENT_UNREACHABLE',
  'AGENT_NOT_ENROLLED',
  'AGENT_DAEMON_UNREACHABLE',
  'SSH_FAILED',
  'SSH_HOST_KEY_MISMATCH',
  'SSH_HOST_KEY_UNKNOWN',
  'SSH_TIMEOUT',
]);

/** Try each route until one reaches the router; a route that cannot reach it falls through. */
async function throughRoutes(
  run: RouterRun,
  o: WaveOptions,
): Promise<{ result?: ChannelResult; route?: Route; fallbacks: { channel: string; code: string; message: string }[] }> {
  const fallbacks: { channel: string; code: string; message: string }[] = [];
  let route: Route | undefined;
  for (route of run.entry.routes) {
    try {
      const result = await runRoute(run, route, o);
      run.timings[`${route.channel}Done`] = o.ports.clock.now() - run.t0;
      if (result.minionKeyFingerprint && !run.expected) run.expected = result.minionKeyFingerprint;
      return { result, route, fallbacks };
    } catch (err) {
      const code = err instanceof RecoveryError ? err.code : 'INTERNAL';
      const silentAgent = code === 'AGENT_TIMEOUT' && /acknowledge/.test((err as Error).message);
      fallbacks.push({ channel: route.channel, code, message: (err as Error).message });
      if (!FALLBACK_CODES.has(code) && !silentAgent) return { route, fallbacks };
      if (o.signal?.aborted) break;
    }
  }
  return { route, fallbacks };
}

async function runRoute(run: RouterRun, route: Route, o: WaveOptions): Promise<ChannelResult> {
  run.timings[`${route.channel}Start`] = o.ports.clock.now() - run.t0;
  if (route.channel === 'agent') {
    if (!o.ports.agent) throw new RecoveryError('AGENT_DAEMON_UNREACHABLE', 'no agent channel in this run');
    // LOCK_HELD: the router still works on an earlier command (a wave killed mid-flight and resumed at
    // once); wait for it within the router's time rather than count the router failed.
    const deadline = o.ports.clock.now() + o.routerTimeoutMs;
    for (;;) {
      const left = Math.max(1000, deadline - o.ports.clock.now());
      const r = await o.ports.agent.reauth(run.entry.routerId, run.entry.pinFingerprint, left);
      if (r.ok || r.code !== 'LOCK_HELD' || o.ports.clock.now() + 500 >= deadline || o.signal?.aborted) return r;
      await o.ports.clock.sleep(500, o.signal).catch(() => undefined);
    }
  }
  if (!o.ports.ssh) throw new RecoveryError('SSH_FAILED', 'no SSH fallback configured in this run');
  return o.ports.ssh.reauth(run.entry.routerId, route, run.entry.pinFingerprint, {
    timeoutMs: o.routerTimeoutMs,
    signal: o.signal,
    onMinionKey: (fp) => {
      run.expected ??= fp; // read over the pinned session: the gate may accept while the steps wait
    },
  });
}

/** The gate's verdicts for one router, as its run sees them. */
function gateWatch(run: RouterRun, o: WaveOptions): GateWatch {
  return {
    routerId: run.entry.routerId,
    expected: () => run.expected,
    onResult(r) {
      if (r.state === 'accepted') {
        run.gate = 'accepted';
        run.gateFingerprint = r.fingerprint;
        run.timings.keyAccepted = o.ports.clock.now() - run.t0;
        o.fault?.reached('wave/key-accepted');
      } else if (r.state === 'mismatch') {
        run.gate = 'mismatch';
        run.gateFingerprint = r.fingerprint ?? undefined;
      } else if (r.state === 'unverified') {
        run.gate = 'unverified';
        run.gateFingerprint = r.fingerprint ?? undefined;
      } else if (r.state === 'failed') run.gateError = r.message;
      return run.gate === 'accepted' || run.gate === 'mismatch';
    },
  };
}
