/**
 * Re-pinning a router to the NEW master key through the fleet re-authentication path (repin mode).
 * It runs after `migrate conductor` moved the router and it shows Connected on the new conductor:
 * the router's minion then points at the new master but still holds the OLD master key in its
 * cache, so it refuses the new master until re-pinned (never "the first master that answers").
 *
 * For each node's minion id: plan with the fleet's own planner (agent first, SSH per the fleet's
 * channel choice; a minion that already answers the NEW salt-api is skipped), then run the fleet
 * wave for just these ids: a signed `reauth` carrying the new master's fingerprint (the command is
 * signed by this conductor-agent, whose key the router pins, so a pin it did not sign is refused),
 * the key gate on the NEW master (a pending key is accepted only when it equals the fingerprint the
 * router's agent reported, signed, and the key the OLD master accepted for that id), and `test.ping`
 * through the NEW salt-api. Anything short of that throws with the fleet's evidence.
 */
import { RecoveryError } from '../../shared/errors.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { Logger } from '../../shared/log/logger.js';
import { pemFinger, type SaltHashType } from '../../shared/salt/fingerprint.js';
import type { MinionKeyLists, MinionKeyStatus } from '../keys/pki.js';
import { runWave } from '../fleet/apply.js';
import type { GateResult, KeyGate } from '../fleet/key-gate.js';
import { planWave, type PlanEntry } from '../fleet/plan.js';
import type { AgentChannel, SshChannel } from '../fleet/ports.js';
import type { RouterOutcome } from '../fleet/report.js';
import type { Pinger } from '../fleet/verify.js';
import type { FleetSources } from '../fleet/wave.js';
import type { NewConductorFiles } from './files.js';
import type { RouterRepin } from './trust.js';

const DIRS: Record<MinionKeyStatus, string> = {
  accepted: 'minions',
  pending: 'minions_pre',
  rejected: 'minions_rejected',
  denied: 'minions_denied',
};

const SAFE_ID = /^[A-Za-z0-9._-]+$/;
/** A minion id that names one file in a pki folder (no path, no dotfile). */
const safeId = (id: string): boolean => SAFE_ID.test(id) && !id.startsWith('.');

const fingerOf = (pem: Buffer | string, hash: SaltHashType): string | null => {
  try {
    return pemFinger(pem, hash);
  } catch {
    return null;
  }
};

/** The new master's key folders, read through the file port (SFTP or a local tree). */
export interface NewMasterKeys {
  /** Status and pending fingerprint of each id on the new master. */
  lists(ids: readonly string[]): Promise<{ keys: MinionKeyLists; pending: Map<string, string | null> }>;
  gate: KeyGate;
}

export interface NewMasterKeysOptions {
  files: NewConductorFiles;
  /** The new master's pki folder (system path on the new conductor). */
  newPkiDir: string;
  /** The key the OLD master accepted for an id (local read), if any. */
  oldAccepted(id: string): Promise<string | undefined>;
  hashType: SaltHashType;
}

/**
 * The fleet key gate over the new master: a pending key is accepted only when its fingerprint is the
 * one the router's agent reported (signed) and, when the old master accepted a key for that id, that
 * key too. The bytes written to `minions/` are the bytes fingerprinted.
 */
export function newMasterKeys(o: NewMasterKeysOptions): NewMasterKeys {
  const path = (s: MinionKeyStatus, id: string): string => `${o.newPkiDir.replace(/\/+$/, '')}/${DIRS[s]}/${id}`;
  const check = async (id: string, expected: string | undefined): Promise<GateResult> => {
    if (!safeId(id)) {
      return { state: 'failed', code: 'KEYS_INVALID', message: `not a valid minion id: ${JSON.stringify(id)}` };
    }
    const bytes = await o.files.read(path('pending', id));
    if (bytes === undefined) return { state: 'none' };
    const fingerprint = fingerOf(bytes, o.hashType);
    // Salt writes minions_pre/<id> in place: a half-written key is not a verdict yet.
    if (fingerprint === null) return { state: 'none' };
    if (expected === undefined) return { state: 'unverified', fingerprint };
    if (fingerprint !== expected) return { state: 'mismatch', fingerprint, expected };
    const old = await o.oldAccepted(id);
    const oldFp = old === undefined ? undefined : (fingerOf(old, o.hashType) ?? 'unreadable');
    if (oldFp !== undefined && oldFp !== expected) return { state: 'mismatch', fingerprint, expected: oldFp };
    await o.files.write(path('accepted', id), bytes, 0o644);
    await o.files.remove(path('pending', id));
    return { state: 'accepted', fingerprint };
  };
  // A pending copy of the accepted key the new master wrote while the accept ran (see KeyGate.settle).
  const settle = async (id: string): Promise<void> => {
    if (!safeId(id)) return;
    const pending = await o.files.read(path('pending', id)); // the usual case: none, one read
    if (pending === undefined) return;
    if ((await o.files.read(path('accepted', id)))?.equals(pending)) await o.files.remove(path('pending', id));
  };
  return {
    gate: { check, settle },
    async lists(ids) {
      const keys: MinionKeyLists = { accepted: [], pending: [], rejected: [], denied: [] };
      const pending = new Map<string, string | null>();
      for (const id of ids) {
        if (!safeId(id)) continue;
        for (const s of ['accepted', 'pending', 'rejected', 'denied'] as const) {
          const bytes = await o.files.read(path(s, id));
          if (bytes === undefined) continue;
          keys[s].push(id);
          if (s === 'pending') pending.set(id, fingerOf(bytes, o.hashType));
          break;
        }
      }
      return { keys, pending };
    },
  };
}

export interface RepinTarget {
  keys: NewMasterKeys;
  pinger: Pinger;
}

export interface FleetRepinPorts {
  /** Signed reauth commands through this conductor-agent's agent channel (the daemon). */
  agent?: AgentChannel | undefined;
  ssh?: SshChannel | undefined;
  sources: FleetSources;
  /** The NEW master: its key folders and `test.ping` through its salt-api. */
  new: RepinTarget;
  /** The OLD master, for re-pinning a router rolled back to it (when its salt-api is configured). */
  old?: RepinTarget | undefined;
  clock: Clock;
  logger: Logger;
}

export interface FleetRepinOptions {
  routerTimeoutMs: number;
  verifyTimeoutMs: number;
  /** Accept SSH host keys pinned nowhere (loud; off unless the operator asks). */
  acceptNewHostKeys?: boolean;
}

/** The real `RouterRepin`: the fleet wave for one router's minion ids against the new master. */
export function fleetRepin(
  ports: FleetRepinPorts | (() => Promise<FleetRepinPorts>),
  o: FleetRepinOptions,
): RouterRepin {
  let wired: Promise<FleetRepinPorts> | undefined;
  const get = (): Promise<FleetRepinPorts> => {
    wired ??= typeof ports === 'function' ? ports() : Promise.resolve(ports);
    return wired;
  };
  return {
    available: true,
    description: 'fleet re-authentication (agent channel, then SSH), key gate and test.ping on the new master',
    async repin(router, minionIds, fingerprint, to = 'new') {
      const p = await get();
      const target = to === 'old' ? p.old : p.new;
      if (!target) {
        throw repinError(router, fingerprint, "the old conductor's salt-api is not configured to confirm it", {});
      }
      // A router still busy with an earlier pin (a run killed mid-repin, then resumed) answers
      // LOCK_HELD; the wave itself waits for it within the router's time (fleet/apply.ts).
      const bad = await attempt(p, target, router, minionIds, fingerprint, o);
      if (bad.length) throw failedRepin(router, fingerprint, bad);
    },
  };
}

/** One wave over these minion ids; returns the ones not done. */
async function attempt(
  p: FleetRepinPorts,
  target: RepinTarget,
  router: string,
  minionIds: readonly string[],
  fingerprint: string,
  o: FleetRepinOptions,
): Promise<RouterOutcome[]> {
  const to = target === p.old ? 'old' : 'new';
  const plan = await planFor(p, target, minionIds, fingerprint, o);
  const missing = minionIds.filter((id) => !plan.some((e) => e.routerId === id));
  if (missing.length) {
    throw repinError(router, fingerprint, `no agent, key or SSH route is known for ${missing.join(', ')}`, {
      missing,
    });
  }
  const wave = await runWave({
    plan: { masterFingerprint: fingerprint, routers: plan, counts: { reauth: 0, skip: 0, blocked: 0 } },
    ports: { agent: p.agent, ssh: p.ssh, gate: target.keys.gate, pinger: target.pinger, clock: p.clock },
    rate: 0,
    concurrency: Math.max(1, plan.length),
    routerTimeoutMs: o.routerTimeoutMs,
    verifyTimeoutMs: o.verifyTimeoutMs,
  });
  const bad = wave.outcomes.filter((x) => x.state !== 'done' && x.state !== 'skipped');
  for (const x of wave.outcomes) {
    p.logger.info('re-pinned a minion', { router, minion: x.routerId, to, state: x.state });
  }
  return bad;
}

async function planFor(
  p: FleetRepinPorts,
  target: RepinTarget,
  ids: readonly string[],
  fingerprint: string,
  o: FleetRepinOptions,
): Promise<PlanEntry[]> {
  const [agents, reported, ssh, { keys, pending }] = await Promise.all([
    p.sources.fleet(),
    p.sources.reported(),
    p.sources.sshRoutes(),
    target.keys.lists(ids),
  ]);
  // Salt's own word on who already follows the new key (an interrupted run, a re-run).
  const answering = keys.accepted.length
    ? await target.pinger.ping(keys.accepted).catch(() => new Set<string>())
    : new Set<string>();
  return planWave({
    masterFingerprint: fingerprint,
    selection: { ids: [...ids] },
    agents,
    reported,
    keys,
    pendingFingerprints: pending,
    answering,
    ssh,
    acceptNewHostKeys: o.acceptNewHostKeys === true,
  }).routers;
}

function repinError(router: string, fingerprint: string, why: string, details: Record<string, unknown>): RecoveryError {
  return new RecoveryError(
    'MIGRATE_REPIN_FAILED',
    `router ${router} could not be re-pinned to ${fingerprint}: ${why}`,
    {
      details: { router, fingerprint, ...details },
      hint:
        'A pending key that is not the one the router reported stays pending: check the router out of band. ' +
        'Re-run with --resume to retry it.',
    },
  );
}

function failedRepin(router: string, fingerprint: string, bad: RouterOutcome[]): RecoveryError {
  const why = bad.map((b) => `${b.routerId}: ${b.state}${b.code ? ` ${b.code}` : ''} (${b.message ?? ''})`).join('; ');
  return repinError(router, fingerprint, why, {
    minions: bad.map((b) => ({
      id: b.routerId,
      state: b.state,
      code: b.code,
      channel: b.channel,
      message: b.message,
      minionKeyFingerprint: b.minionKeyFingerprint,
      evidence: b.evidence,
      fallbacks: b.fallbacks,
    })),
  });
}
