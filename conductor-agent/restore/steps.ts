/**
 * The changing half of a restore, driven by the journal so it can start at any recorded phase:
 * stop services → keep old files → apply → start services → post-verify; and the rollback that
 * undoes it. Each phase is written to the journal (fsync'd) before its effects begin.
 */
import { hasCode, RecoveryError, RestoreError } from '../../shared/errors.js';
import { underRoot, type ConductorConfig } from '../../shared/config/schema.js';
import { applyChanges, rollbackChanges, saveOld, type ApplyContext } from './apply.js';
import { clearJournal, phaseAtLeast, writeJournal, type Journal, type JournalPaths, type Phase } from './journal.js';
import { postVerify } from './post-verify.js';
import type { ResolvedPorts } from './ports.js';
import type { RestoreReport } from './types.js';

export interface StepContext {
  config: ConductorConfig;
  ports: ResolvedPorts;
  paths: JournalPaths;
  report: RestoreReport;
}

async function enter(ctx: StepContext, j: Journal, phase: Phase, withPlan = false): Promise<void> {
  j.phase = phase;
  await writeJournal(ctx.paths, j, { withPlan });
  ctx.ports.logger.info(`restore phase ${phase}`, { component: 'restore', journal: ctx.paths.file });
  await ctx.ports.hooks?.afterPhase?.(phase);
}

const timed = async <T>(ctx: StepContext, step: keyof RestoreReport['timings'], fn: () => Promise<T>): Promise<T> => {
  const t0 = ctx.ports.clock.now();
  try {
    return await fn();
  } finally {
    ctx.report.timings[step] = (ctx.report.timings[step] ?? 0) + ctx.ports.clock.now() - t0;
  }
};

const byName = (ctx: StepContext, name: string) => ctx.ports.services.find((s) => s.name === name);

/** True when both paths exist on one file system (unknown counts as different: flush both). */
async function sameFileSystem(ctx: StepContext, a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([
    ctx.ports.fs.lstat(a).catch(() => undefined),
    ctx.ports.fs.lstat(b).catch(() => undefined),
  ]);
  return sa !== undefined && sb !== undefined && sa.dev === sb.dev;
}

function applyContext(ctx: StepContext, j: Journal): ApplyContext {
  const run = ctx.paths.run(j.id);
  return { fs: ctx.ports.fs, journal: j, staging: run.staging, old: run.old, onApplied: ctx.ports.hooks?.onApplied };
}

/** Run every remaining phase of `j` (from `staged` on). On failure, roll back and throw RESTORE_FAILED. */
export async function continueRestore(ctx: StepContext, j: Journal): Promise<void> {
  try {
    if (!phaseAtLeast(j.phase, 'stopped')) {
      await enter(ctx, j, 'stopping');
      await timed(ctx, 'stop', async () => {
        for (const s of j.services) if (s.wasActive) await byName(ctx, s.name)?.stop();
      });
      await enter(ctx, j, 'stopped');
    }
    if (!phaseAtLeast(j.phase, 'applied')) {
      await timed(ctx, 'apply', async () => {
        const actx = applyContext(ctx, j);
        actx.resumed = phaseAtLeast(j.phase, 'applying');
        if (!phaseAtLeast(j.phase, 'applying')) {
          await enter(ctx, j, 'saving');
          // The plan is written again only when it gained the kept files' names (a rebuilt
          // conductor has nothing to replace: its ~2 MB plan stays as written at `staged`).
          const recorded = await saveOld(actx);
          await enter(ctx, j, 'applying', recorded);
        }
        ctx.report.applied = await applyChanges(actx);
        // Renames and new files are durable before the journal says `applied`: one flush per file
        // system (/var and /etc may be different file systems on a real conductor; usually one).
        const etc = underRoot(j.root, '/etc');
        await ctx.ports.flush(ctx.paths.dir);
        if (!(await sameFileSystem(ctx, ctx.paths.dir, etc))) await ctx.ports.flush(etc);
      });
      await enter(ctx, j, 'applied');
    }
    if (!phaseAtLeast(j.phase, 'started')) {
      await enter(ctx, j, 'starting');
      await timed(ctx, 'start', async () => {
        for (const s of [...j.services].reverse()) await byName(ctx, s.name)?.start();
      });
      await enter(ctx, j, 'started');
    }
    const checks = await timed(ctx, 'post-verify', () =>
      postVerify({
        root: j.root,
        pkiDir: ctx.config.salt.pkiDir,
        services: j.services.map((s) => byName(ctx, s.name)).filter((s) => s !== undefined),
        saltApiPing: ctx.ports.saltApiPing,
        expectedFingerprint: j.expect.masterFingerprint,
        minionKeys: j.expect.minionKeys,
        clock: ctx.ports.clock,
        timeoutMs: ctx.config.restore?.postVerifyTimeoutMs ?? 120_000,
      }),
    );
    ctx.report.postVerify = checks;
    await ctx.ports.hooks?.afterPhase?.('post-verify');
    const failed = checks.filter((c) => c.status === 'fail');
    if (failed.length) {
      throw new RestoreError('RESTORE_FAILED', `post-verify failed: ${failed.map((c) => c.summary).join('; ')}`, {
        details: { checks: failed },
      });
    }
    await clearJournal(ctx.paths, j);
  } catch (err) {
    ctx.ports.logger.error('restore failed, rolling back', { component: 'restore', error: (err as Error).message });
    await rollbackRun(ctx, j);
    ctx.report.rolledBack = true;
    throw hasCode(err, 'RESTORE_FAILED')
      ? err
      : new RestoreError('RESTORE_FAILED', `the restore failed and was rolled back: ${(err as Error).message}`, {
          cause: err,
          details: { step: j.phase, ...(err instanceof RecoveryError ? { causeCode: err.code } : {}) },
          hint: 'The conductor is back to its state before the restore. Fix the cause shown above, then run restore again.',
        });
  }
}

/**
 * Put the target back exactly as it was and services in their previous state. Safe to run again
 * (a killed rollback is finished by `restore --rollback`). Throws RESTORE_ROLLBACK_FAILED and
 * keeps the journal when anything could not be restored.
 */
export async function rollbackRun(ctx: StepContext, j: Journal): Promise<void> {
  const t0 = ctx.ports.clock.now();
  const problems: { path: string; error: string }[] = [];
  j.rollingBack = true;
  await writeJournal(ctx.paths, j);
  if (phaseAtLeast(j.phase, 'starting')) {
    for (const s of j.services) {
      await byName(ctx, s.name)
        ?.stop()
        .catch((err: Error) => problems.push({ path: `service:${s.name}`, error: `stop: ${err.message}` }));
    }
  }
  if (phaseAtLeast(j.phase, 'applying')) problems.push(...(await rollbackChanges(applyContext(ctx, j))));
  if (phaseAtLeast(j.phase, 'stopping')) {
    for (const s of [...j.services].reverse()) {
      if (!s.wasActive) continue;
      await byName(ctx, s.name)
        ?.start()
        .catch((err: Error) => problems.push({ path: `service:${s.name}`, error: `start: ${err.message}` }));
    }
  }
  ctx.report.timings.rollback = ctx.ports.clock.now() - t0;
  if (problems.length) {
    throw new RestoreError(
      'RESTORE_ROLLBACK_FAILED',
      `the rollback could not restore ${problems.length} item(s): ${problems
        .slice(0, 3)
        .map((p) => `${p.path} (${p.error})`)
        .join(', ')}`,
      {
        details: { problems, journal: ctx.paths.file },
        hint: `Fix the cause, then run \`conductor-agent restore --rollback\` again; old files are kept in ${ctx.paths.run(j.id).old}.`,
      },
    );
  }
  await clearJournal(ctx.paths, j);
}
