/**
 * Enrollment over Salt (DESIGN.md trust model, rule 3): announce the agent's public key with
 * `salt-call event.send <ENROLL_TAG> <json>`. The master authenticates the minion, so the conductor
 * can trust the minion id beside the payload. Works only while the minion trusts the master.
 */
import { splitCommandLine, type ProcessRunner } from '../shared/ports/process-runner.js';
import { ENROLL_TAG, type EnrollPayload } from '../shared/protocol/enroll.js';

export interface AnnounceOptions {
  runner: ProcessRunner;
  /** Command line of salt-call (`agent.saltCall`). */
  saltCall: string;
  payload: EnrollPayload;
  timeoutMs?: number;
}

/** The argv used (JSON is valid YAML, which salt-call parses for `data`). */
export function announceArgv(saltCall: string, payload: EnrollPayload): string[] {
  return [...splitCommandLine(saltCall), 'event.send', ENROLL_TAG, JSON.stringify(payload)];
}

/** Fire the enrollment event; resolves true when salt-call succeeded. */
export async function announceKey(o: AnnounceOptions): Promise<{ ok: boolean; detail: string }> {
  try {
    const r = await o.runner.run(announceArgv(o.saltCall, o.payload), { timeoutMs: o.timeoutMs ?? 60_000 });
    return { ok: r.code === 0, detail: r.code === 0 ? 'sent' : `salt-call exited ${r.code ?? r.signal}: ${r.stderr.trim().slice(-300)}` };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  }
}
