/**
 * The daemon's read-only status page: the fleet by trust state (filterable with a plain GET form),
 * the waves in progress, the last backups with their check state and signer. Server-rendered HTML
 * with a meta refresh, one inline stylesheet, no script, no external asset, no form that changes
 * anything. Pure: the same inputs give the same page (tested without a server).
 */
import type { FleetEntry } from '../ws/fleet-view.js';
import type { BackupListing } from '../backup/list.js';
import type { RestoreTestSummary, WaveSummary } from './sources.js';

export interface StatusPageInput {
  conductorId: string;
  generatedAt: string;
  fleet: readonly FleetEntry[];
  backups: readonly BackupListing[];
  waves: readonly WaveSummary[];
  /** Why the backup folder could not be listed, if it could not. */
  backupProblem?: string | undefined;
  /** The newest restore-test on record (also one run from the CLI). */
  lastRestoreTest?: RestoreTestSummary | undefined;
  /** Filters from the query string. */
  filter?: { q?: string | undefined; trust?: string | undefined };
  refreshSeconds?: number;
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** HTML-escape text and attribute values. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESC[c]!);
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}
.n{font-variant-numeric:tabular-nums;text-align:right}.bad{color:#b00}.ok{color:#070}.muted{color:#777}
progress{width:18em}`;

/** Routers matching the filter: `q` is a substring of the id, `trust` an exact state (`unknown` = no report). */
export function filterFleet(fleet: readonly FleetEntry[], filter: StatusPageInput['filter'] = {}): FleetEntry[] {
  const q = filter.q?.trim().toLowerCase();
  return fleet.filter(
    (r) => (!q || r.routerId.toLowerCase().includes(q)) && (!filter.trust || (r.trust ?? 'unknown') === filter.trust),
  );
}

export function countByTrust(fleet: readonly FleetEntry[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of fleet) out.set(r.trust ?? 'unknown', (out.get(r.trust ?? 'unknown') ?? 0) + 1);
  return new Map([...out].sort((a, b) => a[0].localeCompare(b[0])));
}

export function renderStatusPage(input: StatusPageInput): string {
  const refresh = input.refreshSeconds ?? 5;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="${refresh}">
<title>ssr-recovery — ${esc(input.conductorId)}</title><style>${STYLE}</style></head>
<body>
<h1>ssr-recovery on ${esc(input.conductorId)}</h1>
<p class="muted">read-only · generated <time id="generated">${esc(input.generatedAt)}</time> · refreshes every ${refresh} s</p>
${renderSummary(input.fleet)}
${renderWaves(input.waves)}
${renderFleetTable(input.fleet, input.filter)}
${renderBackups(input.backups, input.backupProblem)}
${renderLastRestoreTest(input.lastRestoreTest)}
</body></html>
`;
}

function renderSummary(fleet: readonly FleetEntry[]): string {
  const connected = fleet.filter((r) => r.connected).length;
  const cells = [...countByTrust(fleet)].map(
    ([state, n]) => `<li><a href="?trust=${encodeURIComponent(state)}">${esc(state)}</a>: <b class="n">${n}</b></li>`,
  );
  return `<h2>Fleet</h2>
<p id="fleet-summary">${fleet.length} router(s), ${connected} agent(s) connected</p>
<ul id="trust-counts">${cells.join('')}</ul>`;
}

function renderWaves(waves: readonly WaveSummary[]): string {
  if (waves.length === 0) return '<h2>Waves</h2>\n<p id="waves">no re-authentication or migration wave</p>';
  const rows = waves.map((w) => {
    const done = (w.counts.done ?? 0) + (w.counts.skipped ?? 0);
    const counts = Object.entries(w.counts)
      .map(([k, n]) => `${esc(k)} ${n}`)
      .join(', ');
    return `<tr><td>${esc(w.kind)}</td><td>${esc(w.id)}</td><td>${esc(w.status)}</td><td>${esc(w.startedAt)}</td>
<td><progress max="${w.total}" value="${done}"></progress> <span class="n">${done}/${w.total}</span></td><td>${counts}</td></tr>`;
  });
  return `<h2>Waves</h2>
<table id="waves"><tr><th>kind</th><th>id</th><th>status</th><th>started</th><th>progress</th><th>by state</th></tr>
${rows.join('\n')}</table>`;
}

function renderFleetTable(fleet: readonly FleetEntry[], filter: StatusPageInput['filter'] = {}): string {
  const shown = filterFleet(fleet, filter);
  const options = ['', ...countByTrust(fleet).keys()]
    .map(
      (s) =>
        `<option value="${esc(s)}"${s === (filter.trust ?? '') ? ' selected' : ''}>${esc(s || 'any state')}</option>`,
    )
    .join('');
  const rows = shown.map((r) => {
    const cls = r.trust === 'trusted' ? 'ok' : r.trust ? 'bad' : 'muted';
    const outcome = r.lastOutcome
      ? `${r.lastOutcome.action} ${r.lastOutcome.ok ? 'ok' : (r.lastOutcome.code ?? 'failed')}`
      : '';
    return `<tr data-router="${esc(r.routerId)}"><td>${esc(r.routerId)}</td><td>${r.connected ? 'connected' : 'offline'}</td>
<td>${r.enrolled ? 'yes' : 'no'}</td><td class="${cls}">${esc(r.trust ?? 'unknown')}</td><td>${esc(r.lastReportAt ?? '-')}</td>
<td>${esc(outcome)}${r.pendingKey ? ' · key change pending approval' : ''}</td></tr>`;
  });
  return `<form method="get" action="/"><label>router <input name="q" value="${esc(filter.q ?? '')}"></label>
<label>trust <select name="trust">${options}</select></label> <button>filter</button></form>
<p id="fleet-shown">${shown.length} of ${fleet.length} shown</p>
<table id="fleet"><tr><th>router</th><th>agent</th><th>enrolled</th><th>trust</th><th>last report</th><th>note</th></tr>
${rows.join('\n')}</table>`;
}

function renderBackups(backups: readonly BackupListing[], problem?: string): string {
  if (problem)
    return `<h2>Backups</h2>\n<p id="backups" class="bad">cannot list the backup folder: ${esc(problem)}</p>`;
  if (backups.length === 0) return '<h2>Backups</h2>\n<p id="backups">no backups in the backup folder</p>';
  const rows = backups.slice(0, 20).map((b) => {
    const extra = b as BackupListing & { signer?: string; restoreTest?: { ok: boolean; at: string } };
    const check = b.verified ?? b.sidecar;
    const cls = check === 'ok' || check === 'verified' ? 'ok' : check === 'not-checked' ? 'muted' : 'bad';
    const rt = extra.restoreTest ? `${extra.restoreTest.ok ? 'passed' : 'FAILED'} ${extra.restoreTest.at}` : '-';
    return `<tr><td>${esc(b.name)}</td><td>${esc(b.createdAt)}</td><td class="n">${b.size}</td>
<td class="${cls}">${esc(check)}</td><td>${esc(extra.signer ?? (b.kind === 'hand-made' ? 'unsigned' : '-'))}</td><td>${esc(rt)}</td></tr>`;
  });
  return `<h2>Backups</h2>
<table id="backups"><tr><th>archive</th><th>created</th><th>bytes</th><th>check</th><th>signer</th><th>restore-test</th></tr>
${rows.join('\n')}</table>`;
}

function renderLastRestoreTest(t: RestoreTestSummary | undefined): string {
  if (!t) return '<p id="restore-test" class="muted">no restore-test on record</p>';
  return `<p id="restore-test">last restore-test: <b class="${t.ok ? 'ok' : 'bad'}">${t.ok ? 'passed' : 'FAILED'}</b> \
${esc(t.archive)} at <time>${esc(t.at)}</time></p>`;
}
