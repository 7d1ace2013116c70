/**
 * The wave's plan (pure; what `reauth --dry-run` prints): per selected router its trust state, its
 * minion key's status on the master, the channels that will reach it in order (agent → SSH through
 * the SSR's reverse tunnel → direct SSH), the master fingerprint it will be pinned to and the minion
 * key fingerprint the key gate will demand. Routers that already trust the current key are skipped,
 * so a re-run does nothing twice.
 */
import type { TrustState } from '../../shared/protocol/messages.js';
import type { MinionKeyLists } from '../keys/pki.js';
import type { FleetEntry } from '../ws/fleet-view.js';
import { selector, type Selection } from './select.js';

export type ChannelKind = 'agent' | 'ssh-tunnel' | 'ssh-direct';

/** An SSH route to one router (from the nodeIdentifier map or the inventory file). No secrets. */
export interface SshRoute {
  channel: 'ssh-tunnel' | 'ssh-direct';
  host: string;
  port: number;
  username: string;
  /** `Host` alias in the nodeIdentifier map (`<node>.<router>`), when from there. */
  alias?: string | undefined;
  /** Pinned host key fingerprints (`SHA256:…`); empty = none known. */
  hostKeys: string[];
  /** Where the pins came from: `agent-report`, a known_hosts path, or `accept-new` (loud). */
  hostKeySource?: string | undefined;
  /** Index of the inventory entry (auth settings live there, not in the plan). */
  inventoryIndex?: number | undefined;
}

export type Route = { channel: 'agent' } | SshRoute;

export type KeyStatus = 'accepted' | 'pending' | 'rejected' | 'denied' | 'none';

export interface PlanEntry {
  routerId: string;
  trust: TrustState | 'unknown';
  keyStatus: KeyStatus;
  /** reauth: run it; skip: nothing to do; blocked: cannot or must not be done (see reason). */
  action: 'reauth' | 'skip' | 'blocked';
  /** The first channel, or `none`. */
  channel: ChannelKind | 'none';
  /** Why this channel (or why none / why skipped / why blocked). */
  reason: string;
  routes: Route[];
  /** The master key fingerprint the router will be pinned to. */
  pinFingerprint: string;
  /** The minion key fingerprint the key gate demands, and where it was reported. */
  expectedMinionFingerprint?: string | undefined;
  expectedSource?: 'agent-report' | undefined;
  /** Set for a pending key that does not match the reported one: possible impostor. */
  pendingFingerprint?: string | undefined;
  /** Why a blocked router is blocked. */
  blocked?: 'key-rejected' | 'impostor' | 'no-channel' | undefined;
}

/** Facts the registry keeps from signed agent reports. */
export interface ReportedFacts {
  minionKeyFingerprint?: string | undefined;
  sshHostKeys?: string[] | undefined;
}

export interface PlanInputs {
  masterFingerprint: string;
  selection: Selection;
  /** The fleet view (live agents merged with the registry). */
  agents: readonly FleetEntry[];
  /** Persisted facts from signed reports (registry). */
  reported: ReadonlyMap<string, ReportedFacts>;
  keys: MinionKeyLists;
  /** Fingerprints of pending keys (minions_pre), by id. */
  pendingFingerprints: ReadonlyMap<string, string | null>;
  /** Ids answering `test.ping` now (they already follow the current key). */
  answering: ReadonlySet<string>;
  /** SSH routes by minion id, tunnel first. */
  ssh: ReadonlyMap<string, SshRoute[]>;
  acceptNewHostKeys: boolean;
  /** Routers a journalled wave already finished (`--resume`). */
  done?: ReadonlySet<string> | undefined;
}

export interface WavePlan {
  masterFingerprint: string;
  routers: PlanEntry[];
  counts: Record<PlanEntry['action'], number>;
}

function keyStatusOf(keys: MinionKeyLists): Map<string, KeyStatus> {
  const out = new Map<string, KeyStatus>();
  for (const s of ['denied', 'rejected', 'pending', 'accepted'] as const) for (const id of keys[s]) out.set(id, s);
  return out;
}

/** Every router id known from any source, selected and sorted. */
function routerIds(i: PlanInputs): string[] {
  const match = selector(i.selection);
  const ids = new Set<string>();
  for (const a of i.agents) ids.add(a.routerId);
  for (const s of ['accepted', 'pending', 'rejected', 'denied'] as const) for (const id of i.keys[s]) ids.add(id);
  // A tunnel is reachable under `<node>.<router>` and `<router>`: list it once, under the id the
  // agents or the master know, else under its alias.
  const taken = new Set<string>();
  for (const id of ids) for (const r of i.ssh.get(id) ?? []) if ('alias' in r && r.alias) taken.add(r.alias);
  for (const [id, routes] of i.ssh) {
    if (ids.has(id)) continue;
    const aliases = routes.map((r) => r.alias).filter((a): a is string => Boolean(a));
    if (aliases.length && aliases.every((a) => taken.has(a))) continue;
    ids.add(id);
    for (const a of aliases) taken.add(a);
  }
  return [...ids].filter(match).sort();
}

/** Build the plan. */
export function planWave(i: PlanInputs): WavePlan {
  const status = keyStatusOf(i.keys);
  const agents = new Map(i.agents.map((a) => [a.routerId, a]));
  const routers = routerIds(i).map((id) => planRouter(id, i, agents.get(id), status.get(id) ?? 'none'));
  const counts = { reauth: 0, skip: 0, blocked: 0 };
  for (const r of routers) counts[r.action]++;
  return { masterFingerprint: i.masterFingerprint, routers, counts };
}

function planRouter(id: string, i: PlanInputs, agent: FleetEntry | undefined, keyStatus: KeyStatus): PlanEntry {
  const expected = agent?.trustFacts?.minionKeyFingerprint ?? i.reported.get(id)?.minionKeyFingerprint;
  const base: PlanEntry = {
    routerId: id,
    trust: agent?.trust ?? 'unknown',
    keyStatus,
    action: 'reauth',
    channel: 'none',
    reason: '',
    routes: [],
    pinFingerprint: i.masterFingerprint,
    expectedMinionFingerprint: expected,
    expectedSource: expected ? 'agent-report' : undefined,
  };
  const skip = skipReason(id, i, agent, keyStatus);
  if (skip) return { ...base, action: 'skip', reason: skip };
  if (keyStatus === 'rejected' || keyStatus === 'denied') {
    return {
      ...base,
      action: 'blocked',
      blocked: 'key-rejected',
      reason: `its minion key is ${keyStatus} on the master (an operator's decision): not re-authenticated`,
    };
  }
  const pending = i.pendingFingerprints.get(id);
  // An unreadable pending key (null) may be half-written: the gate looks again during the wave.
  if (keyStatus === 'pending' && expected && pending && pending !== expected) {
    return {
      ...base,
      action: 'blocked',
      blocked: 'impostor',
      pendingFingerprint: pending,
      reason:
        `possible impostor: the pending key ${pending} is not the one its agent reported (${expected}); ` +
        'left pending',
    };
  }
  const routes: Route[] = [];
  const why: string[] = [];
  if (agent?.enrolled && agent.connected) routes.push({ channel: 'agent' });
  else why.push(agent?.enrolled ? 'agent offline' : 'no enrolled agent');
  for (const r of i.ssh.get(id) ?? []) {
    if (r.hostKeys.length || i.acceptNewHostKeys)
      routes.push(r.hostKeys.length ? r : { ...r, hostKeySource: 'accept-new' });
    else why.push(`${r.channel} ${r.host}:${r.port} has no pinned host key`);
  }
  const first = routes[0];
  if (!first) {
    const none = i.ssh.has(id) ? why.join('; ') : `${why.join('; ')}; no SSH route (nodeIdentifier map or inventory)`;
    return { ...base, action: 'blocked', blocked: 'no-channel', reason: none };
  }
  const reason =
    first.channel === 'agent'
      ? 'agent connected and enrolled'
      : `${why.join('; ')}; ${routeName(first)} ${first.host}:${first.port}`;
  return { ...base, channel: first.channel, routes, reason: reason.trim() };
}

function routeName(r: SshRoute): string {
  return r.channel === 'ssh-tunnel' ? `SSR reverse tunnel ${r.alias ?? ''}` : 'inventory';
}

function skipReason(
  id: string,
  i: PlanInputs,
  agent: FleetEntry | undefined,
  keyStatus: KeyStatus,
): string | undefined {
  if (i.done?.has(id)) return 'done in the journalled wave';
  if (keyStatus !== 'accepted') return undefined;
  if (i.answering.has(id)) return 'already answers test.ping on the current master key';
  const f = agent?.trustFacts;
  if (agent?.connected && f?.state === 'trusted' && f.cachedFingerprint === i.masterFingerprint) {
    return 'its agent reports it trusts the current master key';
  }
  return undefined;
}

/** Human rendering of the plan (`--dry-run`). */
export function renderPlan(plan: WavePlan): string {
  const lines = [
    `re-authentication plan: pin ${plan.masterFingerprint}`,
    `  ${plan.counts.reauth} to re-authenticate, ${plan.counts.skip} skipped, ${plan.counts.blocked} blocked`,
  ];
  for (const r of plan.routers) {
    const exp = r.expectedMinionFingerprint ? ` minion key ${r.expectedMinionFingerprint.slice(0, 17)}…` : '';
    lines.push(
      `  ${r.routerId}: ${r.action} via ${r.channel} [trust ${r.trust}, key ${r.keyStatus}]${exp} — ${r.reason}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
