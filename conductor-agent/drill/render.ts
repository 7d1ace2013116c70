import type { DrillReport } from './run.js';

const fmt = (v: unknown): string => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));

/** The drill report as an operator reads it at 2 a.m.: verdict first, then each step and router. */
export function renderDrill(r: DrillReport): string {
  const lines: string[] = [];
  lines.push(`disaster-recovery drill: ${r.ok ? 'PASSED' : 'FAILED'} in ${(r.durationMs / 1000).toFixed(1)} s`);
  lines.push('');
  for (const s of r.steps) {
    const mark = s.status === 'ok' ? 'ok  ' : s.status === 'failed' ? 'FAIL' : '--  ';
    lines.push(
      `[${mark}] ${s.name.padEnd(9)} ${s.title}${s.status === 'not-run' ? ' (not run)' : ` — ${(s.durationMs / 1000).toFixed(1)} s`}`,
    );
    if (s.error) {
      lines.push(`         error [${s.error.code}]: ${s.error.message}`);
      if (s.error.hint) lines.push(`         hint: ${s.error.hint}`);
    }
    for (const [k, v] of Object.entries(s.facts)) {
      if (k === 'checks' && Array.isArray(v)) {
        for (const c of v as Array<{ name: string; status: string; summary: string }>)
          lines.push(`         ${c.status.padEnd(4)} ${c.name}: ${c.summary}`);
      } else lines.push(`         ${k}: ${fmt(v)}`);
    }
  }
  if (r.routers.some((x) => x.reauthOk !== undefined)) {
    lines.push('');
    lines.push('routers:');
    for (const x of r.routers) {
      lines.push(
        `  ${x.id.padEnd(12)} ${x.trustAfterRekey ?? '?'} → ${x.reauthOk ? 'trusted' : 'NOT re-authenticated'}${x.reauthMs !== undefined ? ` in ${(x.reauthMs / 1000).toFixed(1)} s` : ''}${x.error ? `  (${x.error})` : ''}`,
      );
    }
  }
  lines.push('');
  lines.push(r.kept ? `sandbox kept at ${r.sandbox}` : 'sandbox removed (use --keep to inspect it)');
  return lines.join('\n');
}
