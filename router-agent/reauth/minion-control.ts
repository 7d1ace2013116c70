/**
 * Stopping the minion for real, and the positive check that it authenticated. A real salt-minion
 * takes about 6 s to exit after SIGTERM (reference/salt.md §10) and a configured `stop` command
 * may return at once: its files are touched only once the service is inactive and the process
 * that ran before the stop is gone. The check is `salt-call test.ping` with the minion's own
 * config (and so its pin): it succeeds only when a master proves it holds the cached key and
 * answers for this minion.
 */
import { RecoveryError } from '../../shared/errors.js';
import { splitCommandLine, type ProcessRunner } from '../../shared/ports/process-runner.js';
import { minionPidFile, pidAlive, runningMinion } from '../minion/process.js';
import type { MasterProbe } from './confirm.js';
import type { ReauthDeps } from './deps.js';

/** Default wait for the minion to exit after `stop` (systemd's own stop timeout is 90 s). */
export const DEFAULT_MINION_STOP_TIMEOUT_MS = 60_000;

/** How often a minion that something else started again after our stop is stopped again. */
const MAX_RESTOPS = 3;

/**
 * Stop the minion and wait until it is really down; REAUTH_MINION_STILL_RUNNING on timeout. A new
 * minion process appearing after the stop (the SSR restarting it after `migrate conductor`, a
 * supervisor) is stopped again, a few times, instead of waiting out the whole timeout.
 */
export async function stopMinion(
  deps: Pick<ReauthDeps, 'config' | 'service' | 'clock' | 'pollMs' | 'stopTimeoutMs'>,
): Promise<void> {
  const pidFile = await minionPidFile(deps.config);
  let before = await runningMinion(pidFile);
  await deps.service.stop();
  const timeoutMs = deps.stopTimeoutMs ?? DEFAULT_MINION_STOP_TIMEOUT_MS;
  const deadline = deps.clock.now() + timeoutMs;
  let restops = 0;
  for (;;) {
    const active = await deps.service.isActive().catch(() => false);
    const alive = before !== undefined && pidAlive(before.pid);
    if (!active && !alive) return;
    const current = active && !alive ? await runningMinion(pidFile) : undefined;
    if (current !== undefined && current.pid !== before?.pid && restops < MAX_RESTOPS) {
      restops++;
      before = current;
      await deps.service.stop();
      continue;
    }
    if (deps.clock.now() >= deadline) {
      throw new RecoveryError(
        'REAUTH_MINION_STILL_RUNNING',
        `salt-minion is still running ${Math.round(timeoutMs / 1000)} s after it was stopped` +
          (alive ? ` (pid ${before?.pid})` : '') +
          (restops > 0 ? ` (something started it again ${restops} time(s))` : ''),
        {
          details: { pid: before?.pid, serviceActive: active, pidFile, restops },
          hint: 'Nothing was changed. Check why the minion does not exit (systemctl status salt-minion), then retry.',
        },
      );
    }
    await deps.clock.sleep(Math.max(10, Math.min(deps.pollMs, 250)));
  }
}

/** `salt-call test.ping` through the configured `agent.saltCall` command line, killed when its time is up. */
export function saltCallPing(runner: ProcessRunner, saltCall: string): MasterProbe {
  return async (timeoutMs) => {
    const argv = [...splitCommandLine(saltCall), 'test.ping'];
    const r = await runner.run(argv, { timeoutMs });
    const out = `${r.stdout}\n${r.stderr}`
      .split('\n')
      .map((l) => l.trimEnd())
      .filter(Boolean)
      .slice(-12);
    const ok = r.code === 0 && /^\s*True\s*$/m.test(r.stdout);
    return { ok, detail: [`salt-call test.ping: exit ${r.code ?? r.signal}`, ...out] };
  };
}
