/** The live fleet view the daemon keeps: per router, agent connection, trust state, last report. */
import type { ReportBody, TrustFacts, TrustState } from '../../shared/protocol/messages.js';
import type { RegistryEntry } from '../registry/store.js';

export interface FleetEntry {
  routerId: string;
  /** An agent connection whose hello was accepted is open now. */
  connected: boolean;
  /** The router has an enrolled agent key (reports verified against it). */
  enrolled: boolean;
  /** A different key was announced and waits for approval. */
  pendingKey?: string | undefined;
  agentKeyFingerprint?: string | undefined;
  agentVersion?: string | undefined;
  remoteAddress?: string | undefined;
  connectedAt?: string | undefined;
  lastSeenAt?: string | undefined;
  trust?: TrustState | undefined;
  trustFacts?: TrustFacts | undefined;
  lastReportAt?: string | undefined;
  lastReportKind?: ReportBody['kind'] | undefined;
  lastOutcome?: { action: string; ok: boolean; code?: string | undefined; at: string } | undefined;
}

/** Record an authenticated router's verified report in its fleet entry. */
export function recordReport(entry: FleetEntry | undefined, report: { body: ReportBody }, now: number): void {
  if (!entry) return;
  const at = new Date(now).toISOString();
  entry.lastReportAt = at;
  entry.lastReportKind = report.body.kind;
  if (report.body.kind === 'trust') {
    entry.trust = report.body.trust.state;
    entry.trustFacts = report.body.trust;
    return;
  }
  const o = report.body.outcome;
  entry.lastOutcome = { action: o.action, ok: o.ok, code: o.code, at };
  if (o.trust) entry.trust = o.trust;
}

/** Merge live state with the registry so enrolled-but-offline routers show too. Sorted by id. */
export function mergeFleet(live: Iterable<FleetEntry>, registry: readonly RegistryEntry[]): FleetEntry[] {
  const out = new Map<string, FleetEntry>();
  for (const r of registry) {
    out.set(r.minionId, {
      routerId: r.minionId,
      connected: false,
      enrolled: true,
      agentKeyFingerprint: r.fingerprint,
      agentVersion: r.agentVersion,
      pendingKey: r.pending?.fingerprint,
    });
  }
  for (const e of live) {
    const reg = out.get(e.routerId);
    out.set(e.routerId, { ...reg, ...e, enrolled: Boolean(reg), pendingKey: reg?.pendingKey });
  }
  return [...out.values()].sort((a, b) => a.routerId.localeCompare(b.routerId));
}

/** Human table for `conductor-agent fleet`. */
export function renderFleet(entries: readonly FleetEntry[]): string {
  if (entries.length === 0) return 'no router agents enrolled or connected\n';
  const rows = [['ROUTER', 'AGENT', 'ENROLLED', 'TRUST', 'LAST REPORT', 'NOTE']];
  for (const e of entries) {
    rows.push([
      e.routerId,
      e.connected ? 'connected' : 'offline',
      e.enrolled ? 'yes' : 'no',
      e.trust ?? '-',
      e.lastReportAt ?? '-',
      [
        e.pendingKey ? `key change pending approval (${e.pendingKey.slice(0, 11)}…)` : '',
        e.lastOutcome ? `${e.lastOutcome.action} ${e.lastOutcome.ok ? 'ok' : (e.lastOutcome.code ?? 'failed')}` : '',
      ]
        .filter(Boolean)
        .join('; '),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}
