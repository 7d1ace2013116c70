/**
 * Router-side re-authentication (DESIGN.md trust model, rule 1): stop the minion, pin the new
 * master fingerprint in our own drop-in, move the stale cached key aside, start the minion, confirm
 * it cached exactly the pinned key. On failure the pin stays and the key the minion cached during
 * the refused attempt is removed (reference/salt.md §10), so nothing later trusts it. Every step is
 * journalled first and is idempotent, so `resumeInterrupted` finishes a run a crash cut short.
 */
import { join } from 'node:path';
import { RecoveryError } from '../../shared/errors.js';
import { acquireLock } from '../../shared/fs/lock.js';
import { isSha256Finger } from '../../shared/salt/fingerprint.js';
import type { ReauthOutcome } from '../../shared/protocol/messages.js';
import { effectiveValue, pinText, writePin } from '../minion/config-files.js';
import { cachedFingerprint, cachedKeyPath, copyDurably, removeDurably } from '../minion/pki.js';
import { LogTail } from '../trust/log-tail.js';
import { confirmAuthenticated } from './confirm.js';
import { stopMinion } from './minion-control.js';
import type { ReauthJournal } from './journal.js';
import type { ReauthDeps, ReauthTiming } from './deps.js';

export interface ReauthRequest {
  /** The new master's Salt fingerprint (sha256 colon hex). */
  fingerprint?: string | undefined;
  /** The blind pre-ssr-recovery procedure: trust whatever master answers first. Loud, explicit only. */
  trustFirstMaster?: boolean | undefined;
  commandId?: string | undefined;
  origin: 'conductor' | 'local';
}

/** Pure-ish preflight: everything is checked before the router is touched. */
export async function preflight(deps: ReauthDeps, req: ReauthRequest): Promise<void> {
  if (req.trustFirstMaster) {
    if (req.fingerprint)
      throw new RecoveryError('REAUTH_REFUSED', 'give either a fingerprint or --trust-first-master, not both');
    return;
  }
  if (!req.fingerprint || !isSha256Finger(req.fingerprint)) {
    throw new RecoveryError(
      'REAUTH_REFUSED',
      `not a sha256 master fingerprint: ${JSON.stringify(req.fingerprint ?? '')}`,
      {
        hint: 'Use the value of `conductor-agent keys fingerprint` (95 characters, lowercase hex pairs joined by colons).',
      },
    );
  }
  const eff = await effectiveValue(deps.config, 'master_finger', pinText(req.fingerprint));
  if (eff?.value !== req.fingerprint) {
    throw new RecoveryError(
      'REAUTH_REFUSED',
      `${eff?.file ?? 'another minion config file'} sets master_finger after our drop-in and would override the pin`,
      {
        details: { file: eff?.file },
        hint: 'Remove master_finger from that file, then retry.',
      },
    );
  }
}

/** Run one re-authentication; always resolves with an outcome (failures carry a code and evidence). */
export async function reauthenticate(deps: ReauthDeps, req: ReauthRequest): Promise<ReauthOutcome> {
  const t0 = deps.clock.now();
  try {
    await preflight(deps, req);
    await deps.journal.ensure();
    const lock = await acquireLock(deps.journal.lockFile, { purpose: 'router re-authentication' });
    try {
      if (await deps.journal.read()) {
        throw new RecoveryError('LOCK_HELD', 'an interrupted re-authentication must be finished first', {
          hint: 'Restart the router agent: it finishes interrupted runs at start.',
        });
      }
      const id = `${new Date(t0).toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${deps.random.id(4)}`;
      const j: ReauthJournal = {
        id,
        action: 'reauth',
        fingerprint: req.fingerprint,
        trustFirstMaster: req.trustFirstMaster,
        commandId: req.commandId,
        origin: req.origin,
        startedAt: t0,
        step: 'begin',
        runDir: deps.journal.runDir(id),
        timeoutMs: deps.timeoutMs,
      };
      await deps.journal.write(j);
      try {
        return await execute(deps, j, {});
      } catch (err) {
        if (!(err instanceof RecoveryError) || err.code === 'INTERNAL') throw err;
        // An expected failure (a service verb or a file write failed). If the minion was stopped,
        // put its files back and start it again; only then close the run.
        const restarted = await restartAfterFailure(deps, j);
        if (!restarted.ok) throw withRestartProblem(err, restarted.problem); // journal kept: finished at next start
        if (j.snapshot) await recordLast(deps, j, false);
        await deps.journal.clear();
        throw restarted.restarted ? withRestartNote(err) : err;
      }
    } finally {
      await lock.release();
    }
  } catch (err) {
    return failure(err, req.fingerprint, deps.clock.now() - t0);
  }
}

/** Finish a run a crash interrupted (called once at agent start). */
export async function resumeInterrupted(
  deps: ReauthDeps,
): Promise<{ journal: ReauthJournal; outcome: ReauthOutcome } | undefined> {
  const j = await deps.journal.read();
  if (!j) return undefined;
  deps.logger.warn('finishing an interrupted run', { id: j.id, action: j.action, step: j.step });
  const lock = await acquireLock(deps.journal.lockFile, { purpose: 'router re-authentication' });
  try {
    const outcome =
      j.action === 'rollback'
        ? await (await import('./rollback.js')).executeRollback(deps, j)
        : await execute(deps, j, {}).catch((err: unknown) => failure(err, j.fingerprint, 0));
    return { journal: j, outcome: { ...outcome, recovered: true } };
  } finally {
    await lock.release();
  }
}

async function execute(deps: ReauthDeps, j: ReauthJournal, timings: ReauthTiming): Promise<ReauthOutcome> {
  const t0 = deps.clock.now();
  const mark = (name: string): void => {
    timings[name] = deps.clock.now() - t0;
  };
  const step = async (s: ReauthJournal['step']): Promise<void> => {
    j.step = s;
    await deps.journal.write(j);
    await deps.afterStep?.(s);
  };
  const keyPath = cachedKeyPath(deps.pkiDir);
  if (!j.snapshot) {
    await deps.journal.ensure();
    const { ensureDir, PRIVATE_DIR_MODE } = await import('../../shared/fs/atomic.js');
    await ensureDir(j.runDir, PRIVATE_DIR_MODE);
    const pinFile = await copyDurably(deps.config.pinFile, join(j.runDir, 'pin.conf.prev'));
    const prevFinger = await cachedFingerprint(deps.pkiDir);
    const cachedKey = await copyDurably(keyPath, join(j.runDir, 'minion_master.pub.prev'));
    j.snapshot = { pinFile, cachedKey, cachedFingerprint: prevFinger };
    await step('snapshotted');
  }
  await stopMinion(deps);
  mark('stopped');
  await step('stopped');
  if (j.fingerprint) await writePin(deps.config, j.fingerprint);
  else {
    deps.logger.warn('TRUST-FIRST-MASTER: no fingerprint pinned; the minion will trust whichever master answers first');
    await removeDurably(deps.config.pinFile);
  }
  mark('pinned');
  await step('pinned');
  const current = await cachedFingerprint(deps.pkiDir);
  if (j.trustFirstMaster || current !== j.fingerprint) await removeDurably(keyPath);
  mark('keyMoved');
  await step('key-moved');
  const tail = new LogTail({ path: deps.logFile });
  await tail.start();
  await deps.service.start();
  mark('started');
  await step('started');
  const result = await confirmAuthenticated({
    pkiDir: deps.pkiDir,
    service: deps.service,
    clock: deps.clock,
    tail,
    fingerprint: j.fingerprint,
    timeoutMs: j.timeoutMs,
    settleMs: deps.settleMs,
    pollMs: deps.pollMs,
    onKeyCached: () => mark('keyCached'),
    probe: deps.probe,
  });
  mark('confirmed');
  if (
    !result.ok &&
    result.cachedFingerprint !== undefined &&
    j.fingerprint &&
    result.cachedFingerprint !== j.fingerprint
  ) {
    // Salt cached the refused master's key before exiting 42: remove it, or a later unpinned start would trust it.
    await stopMinion(deps).catch(() => undefined);
    await copyDurably(keyPath, join(j.runDir, `refused-${deps.clock.now()}.pub`)).catch(() => false);
    await removeDurably(keyPath);
    mark('refusedKeyRemoved');
  }
  await recordLast(deps, j, result.ok);
  const outcome: ReauthOutcome = {
    ok: result.ok,
    action: 'reauth',
    ...(result.ok ? {} : { code: 'REAUTH_FAILED', message: failureMessage(result.reason) }),
    fingerprint: j.fingerprint,
    cachedFingerprint: result.ok ? result.cachedFingerprint : undefined,
    timings,
    evidence: result.evidence,
    ...(result.confirmedBy ? { confirmedBy: result.confirmedBy } : {}),
  };
  // Queued for the conductor before the journal closes, so a crash in between loses no outcome.
  if (j.commandId) await deps.journal.addPending({ commandId: j.commandId, outcome });
  await deps.journal.clear();
  deps.logger.info(result.ok ? 'minion re-authenticated' : 'minion re-authentication failed', {
    reason: result.reason,
    id: j.id,
  });
  return outcome;
}

const FAILURE_MESSAGES: Record<string, string> = {
  'finger-mismatch': 'the master that answered does not hold the pinned key (master_finger mismatch)',
  rejected: "the master rejected this minion's key",
  'master-key-changed':
    'the master that answered holds another key than the pinned one the minion caches ("The master key has changed")',
  'wrong-key-cached': 'the minion cached a key other than the pinned one',
  'minion-exited': 'the minion exited',
  'not-confirmed': 'salt-call test.ping did not get an answer from the pinned master',
  timeout: 'the minion did not cache the pinned key in time',
};

function failureMessage(reason: string): string {
  return `minion did not authenticate with the pinned key: ${reason} (${FAILURE_MESSAGES[reason] ?? reason})`;
}

/** Steps after which the minion is stopped and not yet started again. */
const MINION_STOPPED_STEPS: readonly ReauthJournal['step'][] = ['stopped', 'pinned', 'key-moved'];

/**
 * After a failure between `stop` and `start`: put back the pin and cached key the run replaced and
 * start the minion, so a failed run leaves the router as it was, running. A stop that timed out
 * left the minion running (nothing was changed).
 */
async function restartAfterFailure(
  deps: ReauthDeps,
  j: ReauthJournal,
): Promise<{ ok: boolean; restarted: boolean; problem?: string }> {
  // At `snapshotted` the stop was asked for: start again only if it took effect.
  const stopped =
    MINION_STOPPED_STEPS.includes(j.step) ||
    (j.step === 'snapshotted' && !(await deps.service.isActive().catch(() => true)));
  if (!stopped) return { ok: true, restarted: false };
  try {
    if (j.snapshot) await restoreSnapshot(deps, j);
    await deps.service.start();
    deps.logger.warn(
      're-authentication failed after the minion was stopped: previous files put back and minion started',
      { id: j.id, step: j.step },
    );
    return { ok: true, restarted: true };
  } catch (err) {
    deps.logger.error('could not start the minion again after a failed re-authentication', { id: j.id, err });
    return { ok: false, restarted: false, problem: (err as Error).message };
  }
}

/** Put back the pin drop-in (or its absence) and the cached key the snapshot recorded. */
async function restoreSnapshot(deps: ReauthDeps, j: ReauthJournal): Promise<void> {
  const snap = j.snapshot!;
  const { writeFileAtomic } = await import('../../shared/fs/atomic.js');
  const { readFile } = await import('node:fs/promises');
  const prev = (name: string): Promise<Buffer> => readFile(join(j.runDir, name));
  if (snap.pinFile) await writeFileAtomic(deps.config.pinFile, await prev('pin.conf.prev'), { mode: 0o644 });
  else await removeDurably(deps.config.pinFile);
  const keyPath = cachedKeyPath(deps.pkiDir);
  if (snap.cachedKey) await writeFileAtomic(keyPath, await prev('minion_master.pub.prev'), { mode: 0o644 });
  else await removeDurably(keyPath);
}

function withRestartNote(err: RecoveryError): RecoveryError {
  const message = `${err.message}; the previous minion files were put back and the minion was started again`;
  return new RecoveryError(err.code, message, {
    cause: err.cause,
    details: { ...err.details, minionRestarted: true },
    hint: err.hint,
  });
}

function withRestartProblem(err: RecoveryError, problem: string | undefined): RecoveryError {
  const message = `${err.message}; starting the minion again also failed (${problem ?? 'unknown'}): it is down`;
  return new RecoveryError(err.code, message, {
    cause: err.cause,
    details: { ...err.details, minionRestarted: false },
    hint: 'Restart the router agent: it finishes the interrupted run at start. Or start salt-minion by hand.',
  });
}

/** An outcome for an error raised before or outside the confirmation. */
export function failure(err: unknown, fingerprint: string | undefined, elapsedMs: number): ReauthOutcome {
  const code = err instanceof RecoveryError ? err.code : 'INTERNAL';
  if (!(err instanceof RecoveryError) || err.code === 'INTERNAL') throw err;
  return {
    ok: false,
    action: 'reauth',
    code,
    message: err.message,
    fingerprint,
    timings: { failed: elapsedMs },
    evidence: [],
  };
}

/** The last run's record (what `rollback` undoes), written when a run ends. */
async function recordLast(deps: ReauthDeps, j: ReauthJournal, ok: boolean): Promise<void> {
  await deps.journal.writeLast({
    id: j.id,
    runDir: j.runDir,
    fingerprint: j.fingerprint,
    snapshot: j.snapshot!,
    finishedAt: deps.clock.now(),
    ok,
  });
}
