/**
 * One fleet re-authentication wave, end to end: read the journal (`--resume`), gather the facts
 * (fleet view, the master's key folders, pending key fingerprints, who already answers, SSH routes),
 * plan purely, then (unless a dry run) apply with the journal recording every finished router, and
 * build the report. The CLI, the drill and the bench call this with their ports.
 */
import { RecoveryError } from '../../shared/errors.js';
import type { FaultSwitch } from '../../shared/fault.js';
import { pemFinger, type SaltHashType } from '../../shared/salt/fingerprint.js';
import type { Random } from '../../shared/ports/random.js';
import { listMinionKeys, minionKeyPath, readOptional } from '../keys/pki.js';
import type { FleetEntry } from '../ws/fleet-view.js';
import { runWave } from './apply.js';
import { WaveJournal, type JournalState } from './journal.js';
import { planWave, type ReportedFacts, type SshRoute, type WavePlan } from './plan.js';
import type { WavePorts } from './ports.js';
import { totalsOf, type RouterOutcome, type WaveReport } from './report.js';
import type { Selection } from './select.js';

export interface FleetSources {
  /** The fleet view (the daemon's, or the registry alone). */
  fleet(): Promise<FleetEntry[]>;
  /** Facts persisted from signed reports (minion key and sshd host key fingerprints). */
  reported(): Promise<Map<string, ReportedFacts>>;
  /** SSH routes by minion id (nodeIdentifier map first, then the inventory), pins applied. */
  sshRoutes(): Promise<Map<string, SshRoute[]>>;
}

export interface FleetReauthOptions {
  selection?: Selection | undefined;
  resume: boolean;
  dryRun: boolean;
  rate: number;
  concurrency: number;
  routerTimeoutMs: number;
  verifyTimeoutMs: number;
  acceptNewHostKeys: boolean;
  conductor: { id: string; agentKey?: string | undefined };
  masterFingerprint: string;
  pkiDir: string;
  hashType?: SaltHashType | undefined;
  journalDir: string;
  sources: FleetSources;
  ports: Omit<WavePorts, 'record'>;
  random: Random;
  signal?: AbortSignal | undefined;
  /** Kill -9 points for the fault suite (`SSR_RECOVERY_REAUTH_FAULT`, shared/fault.ts). */
  fault?: FaultSwitch | undefined;
  onPlan?: ((plan: WavePlan) => void) | undefined;
  onOutcome?: ((o: RouterOutcome) => void) | undefined;
}

/** Run (or plan) a wave and return its report. */
export async function fleetReauth(o: FleetReauthOptions): Promise<WaveReport> {
  const t0 = o.ports.clock.now();
  const journal = o.dryRun ? undefined : await WaveJournal.open(o.journalDir);
  try {
    const prior = o.resume ? await resumable(o, journal) : undefined;
    const selection = prior?.header.selection ?? o.selection;
    if (!selection) throw new RecoveryError('USAGE', 'name the routers: --all or --routers GLOB…');
    const done = prior
      ? new Set([...prior.outcomes.values()].filter((r) => r.state === 'done').map((r) => r.routerId))
      : undefined;
    const plan = await gatherAndPlan(o, selection, done);
    o.onPlan?.(plan);
    const waveId = prior?.header.waveId ?? o.random.id(9);
    const base = {
      dryRun: o.dryRun,
      conductor: o.conductor,
      masterFingerprint: o.masterFingerprint,
      waveId,
      resumed: Boolean(prior),
      rate: { limit: o.rate, achieved: null as number | null, concurrency: o.concurrency },
    };
    if (o.dryRun || !journal) {
      const routers: RouterOutcome[] = [];
      return {
        ...base,
        ok: true,
        interrupted: false,
        totals: totalsOf(routers),
        elapsedMs: o.ports.clock.now() - t0,
        routers,
        plan: plan.routers,
      };
    }
    await journal.begin(
      {
        version: 1,
        waveId,
        conductorId: o.conductor.id,
        masterFingerprint: o.masterFingerprint,
        selection,
        rate: o.rate,
        concurrency: o.concurrency,
        startedAt: new Date(t0).toISOString(),
      },
      Boolean(prior),
    );
    o.fault?.reached('wave/planned');
    const r = await runWave({
      plan,
      ports: { ...o.ports, record: (x) => journal.record(x) },
      rate: o.rate,
      concurrency: o.concurrency,
      routerTimeoutMs: o.routerTimeoutMs,
      verifyTimeoutMs: o.verifyTimeoutMs,
      signal: o.signal,
      fault: o.fault,
      onOutcome: o.onOutcome,
    });
    const outcomes = prior ? mergePrior(r.outcomes, prior.outcomes) : r.outcomes;
    const totals = totalsOf(outcomes);
    const complete = !r.interrupted && totals.failed + totals.impostor + totals.blocked + totals['not-started'] === 0;
    await journal.close(complete ? new Date(o.ports.clock.now()).toISOString() : undefined);
    const span = r.starts.length > 1 ? (r.starts.at(-1)! - r.starts[0]!) / 1000 : 0;
    base.rate.achieved = span > 0 ? (r.starts.length - 1) / span : null;
    return {
      ...base,
      ok: complete,
      interrupted: r.interrupted,
      totals,
      elapsedMs: o.ports.clock.now() - t0,
      routers: outcomes,
    };
  } catch (err) {
    await journal?.close(undefined).catch(() => undefined);
    throw err;
  }
}

/** On resume, routers done earlier show as done (from the journal) rather than skipped. */
function mergePrior(now: RouterOutcome[], prior: Map<string, RouterOutcome>): RouterOutcome[] {
  return now.map((o) =>
    o.state === 'skipped' && prior.get(o.routerId)?.state === 'done' ? prior.get(o.routerId)! : o,
  );
}

async function resumable(o: FleetReauthOptions, journal: WaveJournal | undefined): Promise<JournalState> {
  let state: JournalState | undefined;
  if (journal) state = await journal.read();
  else {
    const w = await WaveJournal.open(o.journalDir);
    try {
      state = await w.read();
    } finally {
      await w.close(undefined);
    }
  }
  if (!state || state.header.finishedAt || state.header.masterFingerprint !== o.masterFingerprint) {
    throw new RecoveryError(
      'FLEET_NOTHING_TO_RESUME',
      state?.header.finishedAt
        ? `the journalled wave ${state.header.waveId} finished at ${state.header.finishedAt}`
        : state
          ? `the journalled wave pinned ${state.header.masterFingerprint}, the master key is now ${o.masterFingerprint}`
          : 'no wave journal',
      { hint: 'Start a new wave (--all or --routers): routers already on the current key are skipped.' },
    );
  }
  return state;
}

async function gatherAndPlan(
  o: FleetReauthOptions,
  selection: Selection,
  done: Set<string> | undefined,
): Promise<WavePlan> {
  const [agents, reported, ssh, keys] = await Promise.all([
    o.sources.fleet(),
    o.sources.reported(),
    o.sources.sshRoutes(),
    listMinionKeys(o.pkiDir),
  ]);
  const pendingFingerprints = new Map<string, string | null>();
  for (const id of keys.pending) {
    const text = await readOptional(minionKeyPath(o.pkiDir, 'pending', id));
    let fp: string | null = null;
    try {
      if (text !== undefined) fp = pemFinger(text, o.hashType ?? 'sha256');
    } catch {
      fp = null;
    }
    pendingFingerprints.set(id, fp);
  }
  const inputs = {
    masterFingerprint: o.masterFingerprint,
    selection,
    agents,
    reported,
    keys,
    pendingFingerprints,
    answering: new Set<string>(),
    ssh,
    acceptNewHostKeys: o.acceptNewHostKeys,
    done,
  };
  // Salt's own word on who already follows the current key: ask only about accepted keys the plan would redo.
  const redo = planWave(inputs)
    .routers.filter((r) => r.action === 'reauth' && r.keyStatus === 'accepted')
    .map((r) => r.routerId);
  if (redo.length) inputs.answering = await o.ports.pinger.ping(redo).catch(() => new Set<string>());
  return planWave(inputs);
}
