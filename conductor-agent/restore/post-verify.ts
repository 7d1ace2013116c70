/**
 * After 128T is started again: is the restored conductor what the backup promised? Each check is a
 * function of injected ports and retried until a deadline (services and salt-api take a while to
 * come up): services active, salt-api answers (skipped when no client is configured), the master
 * key fingerprint on disk equals the backup's, every backed-up minion key is present.
 */
import { readdirSync } from 'node:fs';
import { posix } from 'node:path';
import { underRoot } from '../../shared/config/schema.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { ServiceControl } from '../../shared/ports/service-control.js';
import { pemFingerFile } from '../../shared/salt/fingerprint.js';
import type { CheckResult } from '../verify/checks.js';

export interface PostVerifyInput {
  root: string;
  pkiDir: string;
  services: readonly ServiceControl[];
  /** Resolves when salt-api answers (e.g. a login + `test.ping` through the salt-api client). */
  saltApiPing?: (() => Promise<void>) | undefined;
  expectedFingerprint?: string | undefined;
  /** System paths of minion keys that must exist. */
  minionKeys: readonly string[];
  clock: Clock;
  timeoutMs: number;
  pollMs?: number;
}

async function retry(
  clock: Clock,
  timeoutMs: number,
  pollMs: number,
  fn: () => Promise<CheckResult>,
): Promise<CheckResult> {
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    const r = await fn().catch((err: Error): CheckResult => ({ name: 'error', status: 'fail', summary: err.message }));
    if (r.status !== 'fail' || clock.now() >= deadline) return r;
    await clock.sleep(pollMs);
  }
}

/** Run every post-verify check; the restore succeeds only when none fails. */
export async function postVerify(input: PostVerifyInput): Promise<CheckResult[]> {
  const poll = input.pollMs ?? 2000;
  const results: CheckResult[] = [];
  for (const s of input.services) {
    results.push(
      await retry(input.clock, input.timeoutMs, poll, async () =>
        (await s.isActive())
          ? { name: `service:${s.name}`, status: 'pass', summary: `${s.name} is active` }
          : { name: `service:${s.name}`, status: 'fail', summary: `${s.name} is not active after start` },
      ),
    );
  }
  if (!input.saltApiPing) {
    results.push({ name: 'salt-api', status: 'skip', summary: 'no salt-api client configured (saltApi.username)' });
  } else {
    const ping = input.saltApiPing;
    results.push(
      await retry(input.clock, input.timeoutMs, poll, async () => {
        try {
          await ping();
          return { name: 'salt-api', status: 'pass', summary: 'salt-api answers' };
        } catch (err) {
          return { name: 'salt-api', status: 'fail', summary: `salt-api does not answer: ${(err as Error).message}` };
        }
      }),
    );
  }
  const pub = underRoot(input.root, `${input.pkiDir.replace(/\/+$/, '')}/master.pub`);
  if (!input.expectedFingerprint) {
    results.push({ name: 'master-fingerprint', status: 'skip', summary: 'the archive has no master.pub' });
  } else {
    const expected = input.expectedFingerprint;
    const actual = await pemFingerFile(pub).catch((err: Error) => `unreadable (${err.message})`);
    results.push(
      actual === expected
        ? { name: 'master-fingerprint', status: 'pass', summary: `master.pub fingerprint is ${expected}` }
        : {
            name: 'master-fingerprint',
            status: 'fail',
            summary: `master.pub fingerprint is ${actual}, the backup's is ${expected}`,
            details: { expected, actual },
          },
    );
  }
  const missing: string[] = [];
  // One listing per folder instead of one lstat per key (10,000 keys on the benchmark conductor).
  const listings = new Map<string, Set<string>>();
  for (const k of input.minionKeys) {
    const dir = posix.dirname(k);
    let names = listings.get(dir);
    if (!names) {
      names = new Set(readdirSafe(underRoot(input.root, dir)));
      listings.set(dir, names);
    }
    if (!names.has(posix.basename(k))) missing.push(k);
  }
  results.push(
    missing.length
      ? {
          name: 'minion-keys',
          status: 'fail',
          summary: `${missing.length} minion key(s) missing after restore`,
          details: { missing: missing.slice(0, 20) },
        }
      : { name: 'minion-keys', status: 'pass', summary: `${input.minionKeys.length} minion key(s) present` },
  );
  return results;
}

/** Names in `dir`, or none when it cannot be listed (then every key in it counts as missing). */
function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
