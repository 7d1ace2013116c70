/**
 * `rollback`: put back the files the last re-authentication replaced (our pin drop-in, or its
 * absence, and the previously cached master key), then restart the minion. Journalled like a
 * re-authentication, so a crash mid-rollback is finished at the next start.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { RecoveryError } from '../../shared/errors.js';
import { acquireLock } from '../../shared/fs/lock.js';
import { writeFileAtomic } from '../../shared/fs/atomic.js';
import type { ReauthOutcome } from '../../shared/protocol/messages.js';
import { cachedKeyPath, removeDurably } from '../minion/pki.js';
import type { ReauthDeps } from './deps.js';
import { stopMinion } from './minion-control.js';
import type { ReauthJournal } from './journal.js';

/** Roll back the last run; always resolves with an outcome. */
export async function rollback(
  deps: ReauthDeps,
  commandId?: string,
  origin: 'conductor' | 'local' = 'local',
): Promise<ReauthOutcome> {
  const t0 = deps.clock.now();
  try {
    await deps.journal.ensure();
    const lock = await acquireLock(deps.journal.lockFile, { purpose: 'router re-authentication rollback' });
    try {
      if (await deps.journal.read())
        throw new RecoveryError('LOCK_HELD', 'an interrupted run must be finished first', {
          hint: 'Restart the router agent.',
        });
      const last = await deps.journal.readLast();
      if (!last) {
        throw new RecoveryError(
          'REAUTH_NOTHING_TO_ROLL_BACK',
          'no re-authentication has changed this router since the last rollback',
          {
            hint: 'Nothing to undo: the minion configuration is as the operator left it.',
          },
        );
      }
      const j: ReauthJournal = {
        id: last.id,
        action: 'rollback',
        fingerprint: last.fingerprint,
        commandId,
        origin,
        startedAt: t0,
        step: 'begin',
        runDir: last.runDir,
        snapshot: last.snapshot,
        timeoutMs: deps.timeoutMs,
      };
      await deps.journal.write(j);
      return await executeRollback(deps, j);
    } finally {
      await lock.release();
    }
  } catch (err) {
    if (!(err instanceof RecoveryError) || err.code === 'INTERNAL') throw err;
    return {
      ok: false,
      action: 'rollback',
      code: err.code,
      message: err.message,
      timings: { failed: deps.clock.now() - t0 },
      evidence: [],
    };
  }
}

/** The idempotent body (also used to finish an interrupted rollback). */
export async function executeRollback(deps: ReauthDeps, j: ReauthJournal): Promise<ReauthOutcome> {
  const t0 = deps.clock.now();
  const timings: Record<string, number> = {};
  const snap = j.snapshot ?? { pinFile: false, cachedKey: false };
  await stopMinion(deps); // really down before its files are touched (a real minion takes ~6 s)
  timings.stopped = deps.clock.now() - t0;
  if (snap.pinFile)
    await writeFileAtomic(deps.config.pinFile, await fsp.readFile(join(j.runDir, 'pin.conf.prev')), { mode: 0o644 });
  else await removeDurably(deps.config.pinFile);
  const keyPath = cachedKeyPath(deps.pkiDir);
  if (snap.cachedKey)
    await writeFileAtomic(keyPath, await fsp.readFile(join(j.runDir, 'minion_master.pub.prev')), { mode: 0o644 });
  else await removeDurably(keyPath);
  timings.restored = deps.clock.now() - t0;
  await deps.service.start();
  timings.started = deps.clock.now() - t0;
  await deps.journal.writeLast(undefined);
  const outcome: ReauthOutcome = {
    ok: true,
    action: 'rollback',
    fingerprint: j.fingerprint,
    cachedFingerprint: snap.cachedFingerprint,
    timings,
    evidence: [],
  };
  if (j.commandId) await deps.journal.addPending({ commandId: j.commandId, outcome });
  await deps.journal.clear();
  deps.logger.info('re-authentication rolled back', { id: j.id });
  return outcome;
}
