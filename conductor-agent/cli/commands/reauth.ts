import type { Command } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { ExitRequest, printResult } from '../../../shared/cli/run.js';
import { ErrorCodes, UsageError, type ErrorCode } from '../../../shared/errors.js';
import { FaultSwitch } from '../../../shared/fault.js';
import { commandContext, type CommandContext } from '../context.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

interface ReauthFlags {
  router?: string[];
  rollback?: boolean;
  timeout?: number;
  all?: boolean;
  routers?: string[];
  rate?: string;
  concurrency?: string;
  dryRun?: boolean;
  resume?: boolean;
  acceptNewHostKeys?: boolean;
  inventory?: string;
  knownHosts?: string;
  nodeIdentifier?: string;
}

/**
 * `conductor-agent reauth --router ID`: one router through its agent (the daemon signs the command).
 * `conductor-agent reauth --all | --routers GLOB… [--rate N] [--concurrency N] [--dry-run] [--resume]`:
 * the fleet wave (conductor-agent/fleet): plan, agent channel first and SSH for routers without
 * one, key gate, `test.ping` through salt-api, journal, report. Exit 0 all done, 5 partial, 1 none.
 */
export function register(program: Command, io: CliIo): void {
  program
    .command('reauth')
    .description(
      're-authenticate routers to the current Salt master key: one (--router) ' +
        'or a rate-limited fleet wave (--all / --routers)',
    )
    .option(
      '--router <id>',
      'one router, through its agent (repeated, or with --rate/--dry-run: a wave over exactly these routers)',
      collect,
      [],
    )
    .option('--rollback', "with --router: undo the router's last re-authentication instead")
    .option('--timeout <ms>', 'with --router: how long the router waits for its minion (ms)', (v) => Number(v))
    .option('--all', "the fleet: every router known to the agents, the master's key folders and the SSH maps")
    .option(
      '--routers <glob...>',
      'routers whose minion id matches a glob (repeatable, comma-separated)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      '--rate <n>',
      're-authentications started per second ' +
        "(0 = no limit; default reauth.rate, else 5 × the master's worker_threads)",
    )
    .option('--concurrency <n>', 'routers in flight at once (default reauth.concurrency)')
    .option('--dry-run', 'print the plan (trust state, channel, pins per router) and change nothing')
    .option('--resume', 'continue the interrupted wave from its journal: only what is not done')
    .option(
      '--accept-new-host-keys',
      'SSH: accept a host key that is not pinned anywhere (DANGEROUS: logged loudly per host)',
    )
    .option('--inventory <file>', 'SSH inventory (default reauth.inventoryFile)')
    .option('--known-hosts <file>', 'known_hosts with pinned router host keys (default reauth.knownHostsFile)')
    .option('--node-identifier <file>', 'SSR reverse-tunnel map (default reauth.nodeIdentifierFile)')
    .addHelpText(
      'after',
      '\nExit codes: 0 every selected router answers test.ping on the current key; 5 some did; 1 none did.\n' +
        'Ctrl-C stops starting routers, finishes those in flight and keeps the journal for --resume.\n',
    )
    .action(async (opts: ReauthFlags & { routers?: string[] }, cmd: Command) => {
      const ctx = commandContext(cmd, io);
      const ids = opts.router ?? [];
      if (ids.length && (opts.all || opts.routers?.length || opts.resume))
        throw new UsageError('--router names routers; --all / --routers / --resume select a wave');
      if (opts.rollback && ids.length !== 1) throw new UsageError('--rollback goes with one --router');
      if (
        ids.length === 1 &&
        (opts.rollback || (opts.rate === undefined && opts.concurrency === undefined && !opts.dryRun))
      )
        return single(ctx, ids[0]!, opts);
      return wave(ctx, opts, ids.length ? ids : undefined);
    });
}

async function single(ctx: CommandContext, router: string, opts: ReauthFlags): Promise<void> {
  const io = ctx.io;
  if (opts.timeout !== undefined && (!Number.isFinite(opts.timeout) || opts.timeout <= 0))
    throw new UsageError('--timeout must be a positive number of milliseconds');
  const { controlRequest } = await import('../../ws/control.js');
  const { controlSocketPath } = await import('../../ws/service.js');
  const routerTimeout = opts.timeout ?? Math.max(1000, ctx.config.agents.commandTimeoutMs - 30_000);
  const result = await controlRequest<import('../../reauth/single.js').ReauthRouterResult>(
    controlSocketPath(ctx.config, ctx.loaded.path),
    'reauth',
    { router, action: opts.rollback ? 'rollback' : 'reauth', timeoutMs: routerTimeout },
    routerTimeout + 60_000,
  );
  printResult(io, ctx.opts.json, result, () => {
    const o = result.outcome;
    const lines = [`${result.action} ${result.routerId}: ${result.ok ? 'ok' : `FAILED (${o.code ?? 'unknown'})`}`];
    if (result.fingerprint) lines.push(`  fingerprint: ${result.fingerprint}`);
    if (o.message) lines.push(`  ${o.message}`);
    lines.push(
      `  timings (ms): ${Object.entries(o.timings)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
    if (!result.ok && o.evidence.length) lines.push('  minion log:', ...o.evidence.map((l) => `    ${l}`));
    return lines.join('\n');
  });
  if (!result.ok) {
    const code = (
      result.outcome.code && result.outcome.code in ErrorCodes ? result.outcome.code : 'REAUTH_FAILED'
    ) as ErrorCode;
    throw new ExitRequest(ErrorCodes[code].exit);
  }
}

function count(v: string | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v.replace(/\/s$/, ''));
  if (!Number.isFinite(n) || n < min)
    throw new UsageError(`${name} must be a number ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

async function wave(ctx: CommandContext, opts: ReauthFlags, ids: string[] | undefined): Promise<void> {
  const { parseSelection } = await import('../../fleet/select.js');
  const selection = ids
    ? { ids }
    : opts.resume && !opts.all && !opts.routers?.length
      ? undefined
      : parseSelection({ all: opts.all, routers: opts.routers });
  const rateFlag = count(opts.rate, '--rate', 0);
  const concurrency = count(opts.concurrency, '--concurrency', 1) ?? ctx.config.reauth.concurrency;
  const { wireWave, saltPorts } = await import('../../fleet/from-config.js');
  const w = await wireWave(ctx, {
    inventory: opts.inventory,
    knownHosts: opts.knownHosts,
    nodeIdentifier: opts.nodeIdentifier,
  });
  const salt = await saltPorts(ctx, w.hashType);
  const r = ctx.config.reauth;
  const ssh = await sshChannel(ctx, opts, salt.clock);
  const { fleetReauth } = await import('../../fleet/wave.js');
  const { renderReport, waveExitCode } = await import('../../fleet/report.js');
  const { renderPlan } = await import('../../fleet/plan.js');
  const { systemRandom } = await import('../../../shared/ports/random.js');
  const progress = await (await import('../../fleet/progress.js')).startProgress(ctx.io, ctx.opts.json);
  const interrupt = interruptible(ctx);
  try {
    const report = await fleetReauth({
      selection,
      resume: opts.resume === true,
      dryRun: opts.dryRun === true,
      rate: rateFlag ?? w.defaultRate,
      concurrency,
      routerTimeoutMs: r.routerTimeoutSeconds * 1000,
      verifyTimeoutMs: r.verifyTimeoutSeconds * 1000,
      acceptNewHostKeys: opts.acceptNewHostKeys === true,
      conductor: w.conductor,
      masterFingerprint: w.masterFingerprint,
      pkiDir: ctx.loaded.path(ctx.config.salt.pkiDir),
      hashType: w.hashType,
      journalDir: ctx.loaded.path(r.journalDir),
      sources: w.sources,
      random: systemRandom,
      signal: interrupt.signal,
      fault: FaultSwitch.fromEnv(ctx.io.env, 'REAUTH'),
      ports: { agent: w.agent, ssh, gate: salt.gate, pinger: salt.pinger, clock: salt.clock },
      onPlan: progress.plan,
      onOutcome: progress.outcome,
    });
    progress.stop();
    printResult(ctx.io, ctx.opts.json, report, () =>
      report.dryRun && report.plan
        ? renderPlan({
            masterFingerprint: report.masterFingerprint,
            routers: report.plan,
            counts: countActions(report.plan),
          })
        : renderReport(report),
    );
    const exit = report.dryRun ? 0 : waveExitCode(report.totals);
    if (exit !== 0) throw new ExitRequest(exit);
  } finally {
    progress.stop();
    interrupt.dispose();
  }
}

function countActions(
  plan: { action: 'reauth' | 'skip' | 'blocked' }[],
): Record<'reauth' | 'skip' | 'blocked', number> {
  const c = { reauth: 0, skip: 0, blocked: 0 };
  for (const p of plan) c[p.action]++;
  return c;
}

/** The SSH fallback's channel from the inventory and `reauth.ssh*` defaults. */
async function sshChannel(
  ctx: CommandContext,
  opts: ReauthFlags,
  clock: import('../../../shared/ports/clock.js').Clock,
) {
  const r = ctx.config.reauth;
  const { sshReauthChannel } = await import('../../ssh/steps.js');
  const { parseInventory } = await import('../../ssh/inventory.js');
  const invFile = opts.inventory ?? (r.inventoryFile ? ctx.loaded.path(r.inventoryFile) : undefined);
  const { readFile } = await import('node:fs/promises');
  const inventory = invFile ? parseInventory(await readFile(invFile, 'utf8'), invFile) : [];
  if (opts.acceptNewHostKeys) {
    ctx.logger.warn('--accept-new-host-keys: SSH host keys pinned nowhere will be ACCEPTED and logged; verify them');
  }
  return sshReauthChannel({
    inventory,
    clock,
    logger: ctx.logger,
    path: ctx.loaded.path,
    defaults: { user: r.sshUser, keyFile: r.sshKeyFile, passwordFile: r.sshPasswordFile, sudo: r.sshSudo },
  });
}

/** Ctrl-C: stop starting routers, let the ones in flight finish; a second Ctrl-C is node's default (exit). */
function interruptible(ctx: CommandContext): { signal: AbortSignal; dispose: () => void } {
  const abort = new AbortController();
  const onSigint = (): void => {
    ctx.logger.warn('interrupted: no new routers are started; the ones in flight finish (Ctrl-C again exits at once)');
    abort.abort();
  };
  process.once('SIGINT', onSigint);
  return { signal: abort.signal, dispose: () => process.off('SIGINT', onSigint) };
}
