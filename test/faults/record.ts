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
  const total = list.reduce((a, r) => ({ i: a.i + r.injected, s: a.s + r.survived, d: a.d + r.dataLost }), {
    i: 0,
    s: 0,
    d: 0,
  });
  body.push(['total', '', String(total.i), String(total.s), String(total.d)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

/**
 * Suites that are fault injection by nature (kill -9 at each journal phase, the hostile-archive
 * corpus, restore step failures) also run in `npm test`; under `test:faults` each of their tests
 * counts as one fault: survived when the test (which checks resume/rollback and byte-identical
 * state) passed, and a failed one counts as data lost.
 */
const COUNTED_SUITES: Record<string, string> = {
  'backup-kill.test.ts': 'backup: kill -9 mid-write, then re-run',
  'restore-kill.test.ts': 'restore: kill -9 at every journal phase, then --rollback / --resume',
  'restore-faults.test.ts': 'restore: a failure injected at every step (rolled back)',
  'restore-hostile.test.ts': 'restore/verify: hostile-archive corpus',
  'migrate-kill.test.ts': 'migrate: kill -9 at every journal phase, then --resume / rollback',
  'fleet-reauth.test.ts': 'fleet re-auth: crash and resume, impostor keys',
  'fleet-kill.test.ts': 'fleet re-auth: kill -9 at every wave step (plan, in flight, key gate, verify, journal), then --resume',
  'keys-kill.test.ts': 'keys: kill -9 at every step of enable-signing, rotate, rollback; re-run / --rollback',
};

export const mochaHooks = {
  afterEach(this: { currentTest?: { file?: string; state?: string } }): void {
    const t = this.currentTest;
    const name = t?.file?.split('/').pop();
    const area = name ? COUNTED_SUITES[name] : undefined;
    if (!t || !area) return;
    const row = rows.find((r) => r.area === area);
    const ok = t.state === 'passed' ? 1 : 0;
    if (row) {
      row.injected++;
      row.survived += ok;
      row.dataLost += 1 - ok;
    } else rows.push({ area, fault: 'each test of the suite', injected: 1, survived: ok, dataLost: 1 - ok });
  },
  afterAll(): void {
    if (rows.length === 0) return;
    process.stdout.write(`\nfault-injection table\n${faultTable()}\n`);
    const dir = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}faults.json`, `${JSON.stringify(rows, null, 2)}\n`);
  },
};
