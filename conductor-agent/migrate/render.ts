/** Human rendering of a migration report (`--json` prints the report itself). */
import { renderChecks } from '../verify/run.js';
import { renderDiff } from './plan.js';
import type { MigrateReport } from './types.js';

export function renderMigrate(r: MigrateReport): string {
  const head = r.dryRun ? 'migrate (dry run, nothing changed)' : `migrate${r.resumed ? ' (resumed)' : ''}`;
  const lines = [`${head}: ${r.from.join(', ')} → ${r.to.join(', ')}: ${r.ok ? 'ok' : 'NOT ok'}`, 'preflight:'];
  for (const f of r.findings) lines.push(`  [${f.ok ? 'ok  ' : 'FAIL'}] ${f.check.padEnd(10)} ${f.message}`);
  if (r.trust) lines.push(`salt trust: ${r.trust.mode} (${r.trust.how})`);
  if (r.config) lines.push('configuration on the new conductor:', ...renderDiff(r.config.diff).map((l) => `  ${l}`));
  const t = r.totals;
  lines.push(
    `routers: ${t.routers} (migrated ${t.migrated}, skipped ${t.skipped}, failed ${t.failed}, ` +
      `rolled back ${t.rolledBack})${r.dryRun ? ' — planned' : ''}`,
  );
  for (const x of r.routers.filter((y) => y.outcome === 'failed' || y.outcome === 'rolled-back')) {
    lines.push(
      `  ${x.router}: ${x.outcome} [${x.error?.code ?? '?'}] ${x.error?.message ?? ''}` +
        (x.rollback ? ` (rollback ${x.rollback.ok ? 'ok' : `FAILED: ${x.rollback.message}`})` : ''),
    );
  }
  const per = r.routers.map((x) => x.timings.totalMs).filter((v): v is number => typeof v === 'number');
  if (per.length) lines.push(`time per router: median ${median(per)} ms, max ${Math.max(...per)} ms`);
  const achieved = r.rate.achieved ? `, achieved ${r.rate.achieved.toFixed(2)}/s` : '';
  lines.push(`rate: configured ${r.rate.configured}/s${achieved}`);
  if (r.verify) lines.push('verify:', renderChecks(r.verify));
  lines.push(`took ${(r.durationMs / 1000).toFixed(1)} s`);
  return lines.join('\n');
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
