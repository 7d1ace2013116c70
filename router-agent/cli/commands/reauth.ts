/**
 * `router-agent reauth --fingerprint FP`: the same re-authentication a signed command runs, for an
 * operator at the router's shell. `--rollback` undoes the last one. `--trust-first-master` is the
 * old blind procedure (trust whatever master answers) and only exists as a loud, explicit flag.
 */
import type { Command } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { ExitRequest, printResult } from '../../../shared/cli/run.js';
import { ErrorCodes, UsageError, type ErrorCode } from '../../../shared/errors.js';
import { routerContext } from '../context.js';

export interface ReauthFlags {
  fingerprint?: string;
  trustFirstMaster?: boolean;
  rollback?: boolean;
  timeout?: number;
}

export async function reauthAction(flags: ReauthFlags, cmd: Command, io: CliIo): Promise<void> {
  const ctx = await routerContext(cmd, io, 'warn');
  const modes = [Boolean(flags.fingerprint), Boolean(flags.trustFirstMaster), Boolean(flags.rollback)].filter(
    Boolean,
  ).length;
  if (modes !== 1) throw new UsageError('give exactly one of --fingerprint FP, --rollback or --trust-first-master');
  if (flags.timeout !== undefined && (!Number.isFinite(flags.timeout) || flags.timeout <= 0))
    throw new UsageError('--timeout must be a positive number of milliseconds');
  if (flags.trustFirstMaster) {
    io.stderr(
      'WARNING: --trust-first-master removes the cached master key WITHOUT pinning a fingerprint.\n' +
        'WARNING: the minion will trust whichever master answers first, including an impostor.\n' +
        'WARNING: prefer --fingerprint with the value of `conductor-agent keys fingerprint`.\n',
    );
  }
  const { resolveRouterFacts } = await import('../../facts.js');
  const { JournalStore } = await import('../../reauth/journal.js');
  const { reauthenticate } = await import('../../reauth/run.js');
  const { rollback } = await import('../../reauth/rollback.js');
  const { systemClock } = await import('../../../shared/ports/clock.js');
  const { systemRandom } = await import('../../../shared/ports/random.js');
  const { systemProcessRunner } = await import('../../../shared/ports/process-runner.js');
  const { saltCallPing } = await import('../../reauth/minion-control.js');
  const facts = resolveRouterFacts(ctx.loaded);
  const a = ctx.config.agent;
  const deps = {
    config: facts.config,
    pkiDir: facts.pkiDir,
    logFile: facts.logFile,
    service: facts.service,
    clock: systemClock,
    random: systemRandom,
    journal: new JournalStore(facts.stateDir),
    logger: ctx.logger,
    timeoutMs: flags.timeout ?? a.reauthTimeoutMs,
    settleMs: a.settleMs,
    pollMs: Math.min(a.pollMs, 250),
    probe: saltCallPing(systemProcessRunner, facts.saltCall),
    stopTimeoutMs: a.minionStopTimeoutMs,
  };
  const outcome = flags.rollback
    ? await rollback(deps)
    : await reauthenticate(deps, {
        fingerprint: flags.fingerprint,
        trustFirstMaster: flags.trustFirstMaster,
        origin: 'local',
      });
  printResult(io, ctx.opts.json, { ...outcome, minionId: facts.minionId }, () => {
    const lines = [`${outcome.action} ${facts.minionId}: ${outcome.ok ? 'ok' : `FAILED (${outcome.code})`}`];
    if (outcome.message) lines.push(`  ${outcome.message}`);
    if (outcome.cachedFingerprint) lines.push(`  minion now trusts: ${outcome.cachedFingerprint}`);
    if (outcome.confirmedBy?.length) lines.push(`  confirmed by ${outcome.confirmedBy[0]}`);
    lines.push(
      `  timings (ms): ${Object.entries(outcome.timings)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
    if (!outcome.ok && outcome.evidence.length) lines.push('  minion log:', ...outcome.evidence.map((l) => `    ${l}`));
    return lines.join('\n');
  });
  if (!outcome.ok) {
    const code = (outcome.code && outcome.code in ErrorCodes ? outcome.code : 'REAUTH_FAILED') as ErrorCode;
    throw new ExitRequest(ErrorCodes[code].exit);
  }
}
