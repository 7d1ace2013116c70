/**
 * The drill's re-authentication as the product's fleet wave (conductor-agent/fleet): planned from
 * the live fleet view and the master's key folders, signed commands through the agents, at most
 * `rate` routers started per second (the limit that protects the master from an auth storm), the key
 * gate on the real pki folder, and a router done only when it answers test.ping through salt-api.
 * Progress is one line per finished router with the achieved start rate so far.
 */
import { readdir } from 'node:fs/promises';
import type { Clock } from '../../shared/ports/clock.js';
import { runWave } from '../fleet/apply.js';
import { pkiKeyGate } from '../fleet/key-gate.js';
import { planWave, type SshRoute } from '../fleet/plan.js';
import type { AgentChannel, SshChannel } from '../fleet/ports.js';
import type { RouterOutcome } from '../fleet/report.js';
import { saltApiMinionProbe, type SaltLocalCaller } from '../keys/minion-probe.js';
import { reauthRouter } from '../reauth/single.js';
import type { AgentServer } from '../ws/server.js';
import type { FleetEntry } from '../ws/fleet-view.js';

export interface DrillWaveOptions {
  ids: string[];
  masterFingerprint: string;
  masterPubPath: string;
  pkiDir: string;
  agents?: AgentServer | undefined;
  fleet: readonly FleetEntry[];
  salt: SaltLocalCaller;
  /** Starts per second (0 = no limit). */
  rate: number;
  concurrency: number;
  clock: Clock;
  ssh?: { channel: SshChannel; routes: Map<string, SshRoute[]> } | undefined;
  onProgress?: ((line: string) => void) | undefined;
}

export interface DrillWaveResult {
  outcomes: RouterOutcome[];
  rate: { limit: number; achieved: number | null; concurrency: number };
  wallMs: number;
}

const list = async (dir: string): Promise<string[]> => readdir(dir).catch(() => [] as string[]);

/** Plan and run the wave over `ids`; never throws for a router (its outcome says). */
export async function drillWave(o: DrillWaveOptions): Promise<DrillWaveResult> {
  const [accepted, pending] = await Promise.all([list(`${o.pkiDir}/minions`), list(`${o.pkiDir}/minions_pre`)]);
  const plan = planWave({
    masterFingerprint: o.masterFingerprint,
    selection: { ids: o.ids },
    agents: o.fleet,
    reported: new Map(),
    keys: { accepted, pending, rejected: [], denied: [] },
    pendingFingerprints: new Map(),
    answering: new Set(),
    ssh: o.ssh?.routes ?? new Map(),
    acceptNewHostKeys: false,
  });
  const agent: AgentChannel | undefined = o.agents && {
    async reauth(routerId, fingerprint, timeoutMs) {
      const res = await reauthRouter({
        server: o.agents!,
        routerId,
        fingerprint,
        masterPubPath: o.masterPubPath,
        routerTimeoutMs: timeoutMs,
        marginMs: 10_000,
      });
      const out = res.outcome;
      return { ok: res.ok, code: out.code, message: out.message, evidence: out.evidence, timings: out.timings };
    },
  };
  const t0 = o.clock.now();
  let finished = 0;
  const result = await runWave({
    plan,
    rate: o.rate,
    concurrency: o.concurrency,
    // generous: CI machines under load; a router that is back finishes in seconds anyway
    routerTimeoutMs: 60_000,
    verifyTimeoutMs: 30_000,
    ports: {
      ...(agent ? { agent } : {}),
      ...(o.ssh ? { ssh: o.ssh.channel } : {}),
      gate: pkiKeyGate(o.pkiDir),
      pinger: saltApiMinionProbe(o.salt, { timeoutSeconds: 5 }),
      clock: o.clock,
    },
    onOutcome: (out) => {
      finished++;
      const s = (o.clock.now() - t0) / 1000;
      o.onProgress?.(
        `  ${out.routerId} ${out.state} over ${out.channel ?? 'none'} (${finished}/${plan.routers.length}, ${s.toFixed(1)} s)`,
      );
    },
  });
  return {
    outcomes: result.outcomes,
    rate: { limit: o.rate, achieved: achievedRate(result.starts), concurrency: o.concurrency },
    wallMs: o.clock.now() - t0,
  };
}

/** Routers started per second between the first and the last start (null under two starts). */
export function achievedRate(starts: readonly number[]): number | null {
  if (starts.length < 2) return null;
  const span = (starts[starts.length - 1]! - starts[0]!) / 1000;
  return span > 0 ? Math.round(((starts.length - 1) / span) * 100) / 100 : null;
}
