/**
 * `conductor-agent migrate`: preflight → plan (→ `--dry-run` stops here) → backup → configuration →
 * Salt trust → routers (rate-limited, concurrency-capped) → verify → report. The journal makes every
 * step resumable: a killed run is continued by `--resume` or by a plain re-run with the same arguments.
 */
import { join } from 'node:path';
import { RecoveryError } from '../../shared/errors.js';
import { acquireLock } from '../../shared/fs/lock.js';
import { AssetWatch, rateGate } from './asset-watch.js';
import { configStep } from './config-step.js';
import type { MigrateDeps } from './deps.js';
import { Journal, archiveJournal, foldJournal, readJournal, type JournalState } from './journal.js';
import { verifiedKeyGate } from './key-gate.js';
import { allRunning, configDiff, globMatcher } from './plan.js';
import { preflight, type PreflightFacts } from './preflight.js';
import { migrateRouter, type RouterContext } from './router-step.js';
import type { ConfiguredRouter } from '../ssr/conductor.js';
import type { MigrateReport, RouterResult } from './types.js';
import { verifyStep, type VerifyOutcome } from './verify-step.js';

const sameArgs = (a: Record<string, unknown> | undefined, d: MigrateDeps): boolean =>
  !!a &&
  JSON.stringify(a.to) === JSON.stringify(d.args.to) &&
  JSON.stringify(a.from) === JSON.stringify(d.args.from) &&
  (a.routers ?? null) === (d.args.routers ?? null);

/** Decide what an existing journal means for this run: continue it, set it aside, or refuse. */
async function openState(d: MigrateDeps): Promise<{ state: JournalState; resumed: boolean }> {
  const records = await readJournal(d.paths.journalDir);
  if (!records) return { state: foldJournal([]), resumed: false };
  const state = foldJournal(records);
  if (state.runPhases.has('finished')) {
    if (!d.args.dryRun) await archiveJournal(d.paths.journalDir, d.clock.now());
    return { state: foldJournal([]), resumed: false };
  }
  const started = state.runPhases.get('started');
  if (sameArgs(started?.args as Record<string, unknown> | undefined, d)) return { state, resumed: true };
  throw new RecoveryError('MIGRATE_JOURNAL_PRESENT', 'an unfinished migration with other arguments left a journal', {
    details: { journal: join(d.paths.journalDir, 'journal.jsonl'), args: started?.args },
    hint: 'Re-run migrate with the arguments in details.args (add --resume) to finish it first.',
  });
}

function emptyReport(d: MigrateDeps, resumed: boolean, facts: PreflightFacts): MigrateReport {
  return {
    ok: false,
    dryRun: d.args.dryRun,
    resumed,
    from: d.args.from,
    to: d.args.to,
    findings: facts.findings,
    trust: facts.trust,
    routers: [],
    totals: { routers: 0, migrated: 0, skipped: 0, failed: 0, rolledBack: 0 },
    rate: { configured: d.args.rate },
    durationMs: 0,
  };
}

export async function runMigrate(d: MigrateDeps): Promise<MigrateReport> {
  const t0 = d.clock.now();
  const { state, resumed } = await openState(d);
  const facts = await preflight(d, state.runPhases.has('config-exported'));
  const report = emptyReport(d, resumed, facts);
  const done = (): MigrateReport => ({ ...report, durationMs: d.clock.now() - t0 });
  if (facts.findings.some((f) => !f.ok) || !facts.oldAuthority || !facts.newAuthority || !facts.trust) return done();
  const match = globMatcher(d.args.routers);
  const selected = facts.oldAuthority.routers.filter((r) => match(r.name));
  const diff = configDiff(facts.oldAuthority, facts.newAuthority, d.args.to);
  report.config = { diff, committed: state.runPhases.has('config-committed') };
  report.backup = facts.backup ? { ...facts.backup, taken: false } : { taken: !d.args.dryRun };
  const newWatch = new AssetWatch(d.newSsr, d.clock, d.settings.pollMs, 'new');
  const oldWatch = new AssetWatch(d.oldSsr, d.clock, d.settings.pollMs, 'old');
  await newWatch.refresh();
  if (d.args.dryRun) {
    report.routers = selected.map((r) => ({
      router: r.name,
      outcome: allRunning(newWatch.seen(r.name)) ? 'skipped' : 'migrated',
      timings: {},
    }));
    report.totals = totalsOf(report.routers);
    report.ok = true;
    return done();
  }
  const lock = await acquireLock(join(d.paths.journalDir, 'migrate.lock'), { purpose: 'migrate' });
  const journal = await Journal.open(d.paths.journalDir, { fault: d.fault, now: () => d.clock.now() });
  try {
    await applyRun(d, state, journal, report, facts, { selected, newWatch, oldWatch });
  } finally {
    await journal.close();
    await lock.release();
  }
  if (report.ok) await archiveJournal(d.paths.journalDir, d.clock.now());
  return done();
}

interface Runtime {
  selected: ConfiguredRouter[];
  newWatch: AssetWatch;
  oldWatch: AssetWatch;
}

async function applyRun(
  d: MigrateDeps,
  state: JournalState,
  journal: Journal,
  report: MigrateReport,
  facts: PreflightFacts,
  rt: Runtime,
): Promise<void> {
  const exportName = String(state.runPhases.get('started')?.exportName ?? `ssr-recovery-migrate-${d.clock.now()}`);
  if (!state.runPhases.has('started')) {
    await journal.run('started', {
      args: { to: d.args.to, from: d.args.from, routers: d.args.routers ?? null },
      exportName,
    });
  }
  if (!state.runPhases.has('backup-ready')) {
    const b = facts.backup ?? (await takeBackup(d));
    report.backup = { ...b, taken: !facts.backup };
    await journal.run('backup-ready', { archive: b.archive });
  }
  const { exportFile } = await configStep(d, state, journal, exportName);
  report.config = { ...report.config!, exportName: exportFile, committed: true };
  const trust = facts.trust!;
  await journal.run('trust-checked', { mode: trust.mode, fingerprint: trust.newFingerprint });
  const gate = verifiedKeyGate({
    oldPkiDir: d.paths.oldPkiDir,
    newPkiDir: d.paths.newPkiDir,
    files: d.files,
    hashType: d.hashType,
  });
  const ctx: RouterContext = { d, journal, state, oldWatch: rt.oldWatch, newWatch: rt.newWatch, gate, trust };
  const { results, achieved } = await runRouters(ctx, rt.selected);
  report.routers = results;
  report.totals = totalsOf(results);
  report.rate.achieved = achieved;
  const ok = new Set(results.filter((r) => r.outcome === 'migrated' || r.outcome === 'skipped').map((r) => r.router));
  const v = await verifyStep(
    d,
    rt.newWatch,
    rt.selected.filter((r) => ok.has(r.name)),
  );
  report.verify = v.checks;
  await markSilent(journal, results, v);
  report.totals = totalsOf(results);
  await journal.run('verified', { ok: report.verify.every((c) => c.status !== 'fail') });
  report.ok =
    report.totals.failed === 0 && report.totals.rolledBack === 0 && report.verify.every((c) => c.status !== 'fail');
  if (report.ok) await journal.run('finished', { totals: report.totals });
}

/**
 * A router whose minions do not answer test.ping through the new salt-api is not done, whatever its
 * asset state says: failed with the evidence, journalled, so the next run retries it.
 */
async function markSilent(journal: Journal, results: RouterResult[], v: VerifyOutcome): Promise<void> {
  for (const [i, r] of results.entries()) {
    const silent = v.silent.get(r.router);
    if (!silent) continue;
    const message =
      `router ${r.router} is Running on the new conductor, but its minion(s) ${silent.join(', ')} ` +
      'do not answer test.ping through the new salt-api';
    const evidence = { minions: silent, ...(v.pingError ? { saltApiError: v.pingError } : {}) };
    results[i] = { ...r, outcome: 'failed', error: { code: 'MIGRATE_NOT_CONFIRMED', message, evidence } };
    await journal.router(r.router, 'router-failed', { code: 'MIGRATE_NOT_CONFIRMED', message });
  }
}

/** Start routers at most `rate` per second and `concurrency` at a time; collect results in input order. */
async function runRouters(
  ctx: RouterContext,
  routers: ConfiguredRouter[],
): Promise<{ results: RouterResult[]; achieved: number | undefined }> {
  const { d } = ctx;
  const gate = rateGate(d.args.rate, d.clock);
  const results: RouterResult[] = new Array(routers.length);
  const running = new Set<Promise<void>>();
  const starts: number[] = [];
  let finished = 0;
  for (const [i, r] of routers.entries()) {
    const prior = ctx.state.routers.get(r.name)?.phase;
    // A free slot first, then the rate: a start that waited for a slot still keeps to the schedule.
    while (running.size >= d.settings.concurrency) await Promise.race(running);
    if (prior !== 'router-done') await gate();
    if (prior !== 'router-done') starts.push(d.clock.now());
    const p: Promise<void> = migrateRouter(ctx, r)
      .then((res) => {
        results[i] = res;
        d.onRouter?.(res, ++finished, routers.length);
      })
      .finally(() => running.delete(p));
    running.add(p);
  }
  await Promise.all(running);
  const span = starts.length > 1 ? (starts[starts.length - 1]! - starts[0]!) / 1000 : 0;
  return { results, achieved: span > 0 ? (starts.length - 1) / span : undefined };
}

function totalsOf(rs: readonly RouterResult[]): MigrateReport['totals'] {
  const count = (o: RouterResult['outcome']): number => rs.filter((r) => r.outcome === o).length;
  return {
    routers: rs.length,
    migrated: count('migrated'),
    skipped: count('skipped'),
    failed: count('failed'),
    rolledBack: count('rolled-back'),
  };
}

/** A fresh backup of the old conductor, said as a step first. */
async function takeBackup(d: MigrateDeps): ReturnType<MigrateDeps['backup']['take']> {
  d.onStep?.('taking a backup of the old conductor');
  return d.backup.take();
}
