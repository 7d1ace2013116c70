/**
 * `restoreConductor`: the seed's "Recover the Configuration" procedure as one safe operation.
 * preflight (archive, target, space, services) → stage + verify (extract into a folder beside the
 * journal: the target is untouched, 128T still runs) → plan → [dry-run stops here] → journal →
 * stop 128T (+ salt-master) → keep old files → apply → start → post-verify → done, or roll back.
 * `resumeRestore` / `rollbackRestore` finish or undo a run interrupted at any point.
 */
import { hostname } from 'node:os';
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import { RestoreError } from '../../shared/errors.js';
import { underRoot, type ConductorConfig } from '../../shared/config/schema.js';
import { acquireLock } from '../../shared/fs/lock.js';
import { changes } from './plan.js';
import { journalPaths, readJournal, writeJournal, type Journal, type JournalPaths } from './journal.js';
import {
  dropRun,
  independentVerify,
  journalPresent,
  missingFolders,
  newReport,
  refuseOnFindings,
  removeIfEmpty,
  removeOrphanRuns,
  withReport,
} from './run-support.js';
import { peekArchive } from './peek.js';
import { resolvePorts, type ResolvedPorts, type RestorePorts } from './ports.js';
import { preflightTarget } from './preflight.js';
import { signatureGate } from './signature-gate.js';
import { stageArchive, type StageResult } from './stage.js';
import { continueRestore, rollbackRun, type StepContext } from './steps.js';
import type { RestoreReport } from './types.js';

export interface RestoreOptions {
  /** Path of the archive (`.tar.gz` or `.tar.gz.age`; a seed-made `tar -czf` archive too). */
  archive: string;
  /** Root prefix (`/` on a real conductor). */
  root: string;
  config: ConductorConfig;
  /** Stop after preflight, staging and planning: nothing on the target or its services changes. */
  dryRun?: boolean;
  /** age identity file for `.age` archives. */
  identityFile?: string | undefined;
  /** Accept an archive made on the node with this name (default: only this node's own, from local.init). */
  node?: string | undefined;
  /** Confirm restoring an unverified (seed-made, manifest-less, or unsigned) archive without asking. */
  yes?: boolean;
  /** Fingerprints of trusted backup signers (backup/signer.ts resolveTrustedSigners); default: resolved from config. */
  trustedSigners?: ReadonlySet<string> | undefined;
  ports: RestorePorts;
}

export interface JournalRunOptions {
  root: string;
  config: ConductorConfig;
  ports: RestorePorts;
  /** Trusted backup signers for a resume that stages again (default: resolved from config). */
  trustedSigners?: ReadonlySet<string> | undefined;
}

function pathsFor(root: string, config: ConductorConfig): JournalPaths {
  return journalPaths(underRoot(root, config.restore?.journalDir ?? '/var/lib/ssr-recovery-restore'));
}

export async function restoreConductor(o: RestoreOptions): Promise<RestoreReport> {
  const paths = pathsFor(o.root, o.config);
  const created = await missingFolders(paths.dir);
  // Parents are ordinary system folders (0755); only the journal folder itself is private.
  await fsp.mkdir(dirname(paths.dir), { recursive: true, mode: 0o755 });
  const lock = await acquireLock(paths.lock, { purpose: 'restore' });
  try {
    return await restoreLocked(o, paths);
  } finally {
    await lock.release();
    await removeIfEmpty(created);
  }
}

async function restoreLocked(o: RestoreOptions, paths: JournalPaths): Promise<RestoreReport> {
  const ports = resolvePorts(o.ports);
  const report = newReport(o.dryRun ? 'dry-run' : 'restore', o.root, o.archive);
  let staging: string | undefined;
  let journal: Journal | undefined;
  try {
    const { peek, pre } = await preflightRun(o, ports, paths, report);
    const stamp = new Date(ports.clock.now()).toISOString().replace(/[-:.]/g, '');
    const id = `${stamp}-${ports.random.bytes(3).toString('hex')}`;
    staging = o.dryRun ? `${paths.dir}/dry-run-${id}` : paths.run(id).staging;
    if (!o.dryRun) {
      journal = newJournal(o, ports, id, pre.servicesActive, report.verified === true);
      await writeJournal(paths, journal);
      await ports.hooks?.afterPhase?.('staging');
    }
    const staged = await stageArchive({
      archive: o.archive,
      root: o.root,
      config: o.config,
      staging,
      owners: ports.owners,
      clock: ports.clock,
      identityFile: o.identityFile,
      targetNode: pre.targetNode,
      acceptNode: o.node,
      knownManifest:
        peek.manifest && peek.manifestBytes ? { bytes: peek.manifestBytes, manifest: peek.manifest } : undefined,
      flush: o.dryRun ? undefined : ports.flush,
    });
    report.timings.stage = staged.timings.stage;
    report.timings.verify = staged.timings.verify;
    report.findings.push(...staged.verify.findings);
    report.node = staged.verify.archiveNode;
    report.plan = staged.plan.summary;
    // Every path only in a dry-run (the operator asked for the plan); a restore reports the summary.
    if (o.dryRun) report.planEntries = staged.plan.entries;
    if (o.dryRun) report.findings.push(await independentVerify(o.archive, o.identityFile, staged.allowlist));
    refuseOnFindings(report.findings, report);
    if (o.dryRun) {
      report.ok = true;
      return report;
    }
    const j = journal!;
    recordPlan(j, staged, o.config, report);
    // Staged files are durable before the journal says `staged` (the flush began when extraction ended).
    await staged.flushed;
    j.phase = 'staged';
    await writeJournal(paths, j, { withPlan: true });
    await ports.hooks?.afterPhase?.('staged');
    report.journal = paths.file;
    await continueRestore(stepContext(o.config, ports, paths, report), j);
    report.ok = true;
    return report;
  } catch (err) {
    // Before `stopping` nothing outside the journal folder changed: drop staging and the journal.
    if (journal && (journal.phase === 'staging' || journal.phase === 'staged')) await dropRun(paths, journal);
    throw withReport(err, report);
  } finally {
    if (o.dryRun && staging) await fsp.rm(staging, { recursive: true, force: true });
  }
}

/** No journal pending (orphans of killed runs removed), the archive's first member, the target, the confirmation. */
async function preflightRun(o: RestoreOptions, ports: ResolvedPorts, paths: JournalPaths, report: RestoreReport) {
  const existing = await readJournal(paths);
  if (existing) throw journalPresent(paths, existing);
  const orphans = await removeOrphanRuns(paths);
  if (orphans.length) ports.logger.info('removed folders an interrupted restore left', { orphans });
  const t0 = ports.clock.now();
  const peek = await peekArchive(o.archive, { identityFile: o.identityFile });
  report.verified = peek.manifest !== undefined;
  const pre = await preflightTarget({
    root: o.root,
    peek,
    services: ports.services,
    journalDir: paths.dir,
    acceptNode: o.node,
    freeBytes: ports.freeBytes,
  });
  report.findings.push(...pre.findings);
  // Signature hook: judged on the exact manifest bytes the staging step will be held to.
  const gate = signatureGate(peek.manifestBytes, o.trustedSigners ?? (await trustedFromConfig(o)), o.archive);
  if (gate.finding) report.findings.push(gate.finding);
  if (gate.check?.fingerprint) report.signer = gate.check.fingerprint;
  report.timings.preflight = ports.clock.now() - t0;
  refuseOnFindings(report.findings, report);
  if ((!peek.manifest || gate.needsConfirmation) && !o.dryRun && !o.yes) {
    const what = peek.manifest
      ? 'its manifest is not signed, so nothing proves who made it'
      : 'it has no manifest, so its content cannot be checked against hashes';
    const ok = ports.confirm ? await ports.confirm(`UNVERIFIED ARCHIVE: ${what}. Restore it anyway?`) : false;
    if (!ok) {
      const says = `${o.archive} is an unverified archive (${peek.manifest ? 'unsigned manifest' : 'no ssr-recovery manifest'})`;
      throw new RestoreError('RESTORE_NEEDS_CONFIRMATION', says, {
        hint: 'Check where the archive comes from, then run again with --yes to restore it.',
      });
    }
  }
  return { peek, pre };
}

function newJournal(
  o: RestoreOptions,
  ports: ResolvedPorts,
  id: string,
  services: Journal['services'],
  verified: boolean,
): Journal {
  const options = {
    ...(o.identityFile ? { identityFile: o.identityFile } : {}),
    ...(o.node ? { node: o.node } : {}),
    ...(o.yes ? { yes: true } : {}),
  };
  return {
    version: 1,
    id,
    createdAt: new Date(ports.clock.now()).toISOString(),
    host: hostname(),
    pid: process.pid,
    archive: o.archive,
    root: o.root,
    options,
    phase: 'staging',
    services,
    changes: [],
    expect: { minionKeys: [], verified },
    dirs: [],
  };
}

/** The plan into the journal: changes in apply order, folder metadata, what post-verify expects. */
function recordPlan(j: Journal, staged: StageResult, config: ConductorConfig, report: RestoreReport): void {
  const pki = config.salt.pkiDir.replace(/\/+$/, '');
  const members = staged.extract.members;
  j.changes = changes(staged.plan).map((e) => ({ path: e.path, kind: e.kind, action: e.action as 'add' | 'replace' }));
  const dirs = members.filter((m) => m.kind === 'dir');
  j.dirs = dirs.map(({ path, mode, uid, gid, mtime }) => ({ path, mode, uid, gid, mtime }));
  j.expect = {
    ...(staged.verify.masterFingerprint ? { masterFingerprint: staged.verify.masterFingerprint } : {}),
    minionKeys: members.filter((m) => m.kind !== 'dir' && m.path.startsWith(`${pki}/minions/`)).map((m) => m.path),
    verified: report.verified === true,
    ...(report.node ? { node: report.node } : {}),
  };
}

const stepContext = (
  config: ConductorConfig,
  ports: ResolvedPorts,
  paths: JournalPaths,
  report: RestoreReport,
): StepContext => ({ config, ports, paths, report });

async function withJournal(
  o: JournalRunOptions,
  mode: 'resume' | 'rollback',
  fn: (ctx: StepContext, j: Journal) => Promise<void>,
): Promise<RestoreReport> {
  const ports = resolvePorts(o.ports);
  const paths = pathsFor(o.root, o.config);
  const report = newReport(mode, o.root);
  await fsp.mkdir(dirname(paths.dir), { recursive: true, mode: 0o755 });
  const lock = await acquireLock(paths.lock, { purpose: `restore --${mode}` });
  let cleared = false;
  try {
    const j = await readJournal(paths);
    if (!j) {
      throw new RestoreError(
        'RESTORE_PREFLIGHT',
        `there is no interrupted restore to ${mode} (no journal at ${paths.file})`,
        { details: { journal: paths.file }, hint: 'Nothing to do.' },
      );
    }
    report.archive = j.archive;
    report.journal = paths.file;
    await fn(stepContext(o.config, ports, paths, report), j);
    report.ok = true;
    cleared = true;
    return report;
  } catch (err) {
    throw withReport(err, report);
  } finally {
    await lock.release();
    if (cleared) await fsp.rmdir(paths.dir).catch(() => undefined);
  }
}

/** Undo an interrupted (or failed-rollback) restore from its journal. */
export function rollbackRestore(o: JournalRunOptions): Promise<RestoreReport> {
  return withJournal(o, 'rollback', async (ctx, j) => {
    if (j.phase === 'staging' || j.phase === 'staged') {
      // Nothing outside the journal folder changed yet.
      await dropRun(ctx.paths, j);
      return;
    }
    await rollbackRun(ctx, j);
    ctx.report.rolledBack = true;
  });
}

/** Finish an interrupted restore from its journal (re-staging from the archive when staging was incomplete). */
export function resumeRestore(o: JournalRunOptions): Promise<RestoreReport> {
  return withJournal(o, 'resume', async (ctx, j) => {
    if (j.rollingBack) throw journalPresent(ctx.paths, j);
    if (j.phase === 'staging' || j.phase === 'staged') {
      // Staging may be incomplete (or lost): drop it and run the whole restore again with the recorded options.
      await dropRun(ctx.paths, j);
      const again = await restoreLocked(
        {
          archive: j.archive,
          root: j.root,
          config: ctx.config,
          identityFile: j.options.identityFile,
          node: j.options.node,
          yes: j.options.yes ?? false,
          ports: o.ports,
          trustedSigners: o.trustedSigners,
        },
        ctx.paths,
      );
      Object.assign(ctx.report, { ...again, mode: 'resume' });
      return;
    }
    await continueRestore(ctx, j);
  });
}

/** Trusted signers from the configuration alone (library callers without `trustedSigners`). */
async function trustedFromConfig(o: RestoreOptions): Promise<ReadonlySet<string>> {
  const { resolveTrustedSigners } = await import('../backup/signer.js');
  return (await resolveTrustedSigners({ config: o.config, path: (p) => underRoot(o.root, p) })).fingerprints;
}
