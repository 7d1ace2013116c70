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
 * Tests that are fault injection by nature also count, one fault per test: survived when the test
 * (which checks resume/rollback, byte-identical state, or the right answer after the fault) passed,
 * data lost when it failed. Whole suites (kill -9 at each step, hostile corpus, step failures) count
 * every test; inside suites that `npm test` also runs (salt-api client, /events, SSH, migrate) only the
 * tests whose title matches count, so no test code is written twice. First match wins.
 */
interface Counted {
  file: string;
  title?: RegExp;
  area: string;
  fault: string;
}
const COUNTED: readonly Counted[] = [
  { file: 'backup-kill.test.ts', area: 'backup', fault: 'kill -9 mid-write, then re-run' },
  { file: 'restore-kill.test.ts', area: 'restore', fault: 'kill -9 at every journal phase, --rollback / --resume' },
  { file: 'restore-faults.test.ts', area: 'restore', fault: 'a failure injected at every step (rolled back)' },
  { file: 'restore-hostile.test.ts', area: 'restore/verify', fault: 'hostile-archive corpus' },
  { file: 'migrate-kill.test.ts', area: 'migrate', fault: 'kill -9 at every journal phase, --resume / rollback' },
  {
    file: 'migrate-run.test.ts',
    title: /API going away/,
    area: 'migrate',
    fault: 'SSR API disappears mid-run, re-run',
  },
  { file: 'fleet-reauth.test.ts', area: 'fleet re-auth', fault: 'crash and resume, impostor keys (in-process)' },
  {
    file: 'fleet-kill.test.ts',
    area: 'fleet re-auth',
    fault: 'kill -9 at every wave step (plan, in flight, key gate, verify, journal), --resume',
  },
  { file: 'fleet-ssh.test.ts', title: /hangs/, area: 'fleet SSH', fault: 'a host that hangs (per-host budget)' },
  {
    file: 'keys-kill.test.ts',
    title: /salt-api/,
    area: 'salt-api',
    fault: 'command (keys rotate) through a 503 storm + 401 mid-run',
  },
  {
    file: 'keys-kill.test.ts',
    area: 'keys',
    fault: 'kill -9 at every step of enable-signing/rotate/rollback, re-run / --rollback',
  },
  { file: 'saltapi-client.test.ts', title: /401/, area: 'salt-api', fault: 'token expired / forgotten session (401)' },
  {
    file: 'saltapi-client.test.ts',
    title: /503|504|stays down/,
    area: 'salt-api',
    fault: '503/504 storms: retried, else a stable error',
  },
  {
    file: 'saltapi-client.test.ts',
    title: /timeout|refused|not JSON/,
    area: 'salt-api',
    fault: 'timeout, connection refused, non-JSON 200',
  },
  {
    file: 'saltapi-events-stale.test.ts',
    area: 'salt-api /events',
    fault: 'stream stalls (open, silent) after a restart',
  },
  { file: 'saltapi-events-retry.test.ts', area: 'salt-api /events', fault: 'stream ends: reconnect on the retry hint' },
];

/** The ledger row a finished test counts in, if any. */
export function countedAs(file: string, title: string): Counted | undefined {
  return COUNTED.find((c) => c.file === file && (!c.title || c.title.test(title)));
}

export const mochaHooks = {
  afterEach(this: { currentTest?: { file?: string; title?: string; state?: string } }): void {
    const t = this.currentTest;
    const name = t?.file?.split('/').pop();
    const c = t && name ? countedAs(name, t.title ?? '') : undefined;
    if (!t || !c) return;
    const row = rows.find((r) => r.area === c.area && r.fault === c.fault);
    const ok = t.state === 'passed' ? 1 : 0;
    if (row) {
      row.injected++;
      row.survived += ok;
      row.dataLost += 1 - ok;
    } else rows.push({ area: c.area, fault: c.fault, injected: 1, survived: ok, dataLost: 1 - ok });
  },
  afterAll(): void {
    if (rows.length === 0) return;
    process.stdout.write(`\nfault-injection table\n${faultTable()}\n`);
    const dir = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}faults.json`, `${JSON.stringify(rows, null, 2)}\n`);
  },
};
