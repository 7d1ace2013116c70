/**
 * The fault suite's ledger: each fault test records what it injected, how many the system survived
 * (kept running, answered correctly afterwards, or was resumed/rolled back to a consistent state) and
 * how much data was lost (must be 0). A root hook prints the table after the run and writes it to
 * test-artifacts/faults.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface FaultRow {
  area: string;
  fault: string;
  injected: number;
  survived: number;
  dataLost: number;
}

const rows: FaultRow[] = [];

export function recordFaults(row: FaultRow): void {
  rows.push(row);
}

export function faultTable(list: readonly FaultRow[] = rows): string {
  const head = ['area', 'fault', 'injected', 'survived', 'data lost'];
  const body = list.map((r) => [r.area, r.fault, String(r.injected), String(r.survived), String(r.dataLost)]);
  const total = list.reduce((a, r) => ({ i: a.i + r.injected, s: a.s + r.survived, d: a.d + r.dataLost }), { i: 0, s: 0, d: 0 });
  body.push(['total', '', String(total.i), String(total.s), String(total.d)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

export const mochaHooks = {
  afterAll(): void {
    if (rows.length === 0) return;
    process.stdout.write(`\nfault-injection table\n${faultTable()}\n`);
    const dir = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}faults.json`, JSON.stringify(rows, null, 2) + '\n');
  },
};
