import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { printResult } from '../../../shared/cli/run.js';
import { RecoveryError, UsageError } from '../../../shared/errors.js';
import { commandContext, type CommandContext } from '../context.js';
import type { RestorePorts, RestoreReport } from '../../restore/index.js';

interface RestoreFlags {
  dryRun?: boolean;
  identity?: string;
  yes?: boolean;
  node?: string;
  rollback?: boolean;
  resume?: boolean;
  trustedSigner?: string[];
}

/** `conductor-agent restore`: restore a conductor from a backup (same IP), resumable and undoable. */
export function register(program: Command, io: CliIo): void {
  program
    .command('restore')
    .description(
      'restore a conductor from a backup (same IP): preflight, stop 128T, safe extraction, verify, apply, start, post-verify; rolls back on failure',
    )
    .argument(
      '[archive]',
      'conductor-backup-….tar.gz (or .tar.gz.age, or a seed-made tar -czf archive); a path on this machine, not under --root',
    )
    .option('--dry-run', 'run preflight, stage and verify the archive, print the plan; change nothing')
    .option('--identity <file>', 'age identity file (AGE-SECRET-KEY-1…) for an encrypted archive')
    .option('--yes', 'confirm restoring an unverified (manifest-less, seed-made, or unsigned) archive without asking')
    .option(
      '--trusted-signer <key>',
      'also trust this backup signer: Ed25519 public key (PEM), fingerprint, or a file of them (repeatable)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--node <name>', "accept an archive of this node name (default: only this node's own, from local.init)")
    .option('--rollback', 'undo an interrupted restore from its journal')
    .option('--resume', 'finish an interrupted restore from its journal')
    .addHelpText(
      'after',
      '\nExit status: 0 restored; 4 refused by preflight (nothing changed); 1 failed and rolled back;\n6 an interrupted restore left a journal (choose --resume or --rollback); 7 the archive failed verification\n' +
        '(incl. a signature that does not verify or an untrusted signer:\n' +
        'ARCHIVE_SIGNATURE_INVALID, ARCHIVE_SIGNER_UNTRUSTED).',
    )
    .action(async (archive: string | undefined, flags: RestoreFlags, cmd: Command) => {
      if (flags.rollback && flags.resume) throw new UsageError('--rollback and --resume exclude each other');
      if (!archive && !flags.rollback && !flags.resume)
        throw new UsageError('name the archive to restore (or use --resume / --rollback)');
      if (archive && (flags.rollback || flags.resume))
        throw new UsageError('--resume and --rollback work from the journal: give no archive');
      const ctx = commandContext(cmd, io);
      const run = await import('../../restore/index.js');
      const ports = await portsFromConfig(ctx);
      const { resolveTrustedSigners } = await import('../../backup/signer.js');
      const extra = flags.trustedSigner;
      const trusted = await resolveTrustedSigners({ config: ctx.config, path: ctx.loaded.path, extra });
      const base = { root: ctx.opts.root, config: ctx.config, ports, trustedSigners: trusted.fingerprints };
      let report: RestoreReport;
      try {
        if (flags.rollback) report = await run.rollbackRestore(base);
        else if (flags.resume) report = await run.resumeRestore(base);
        else {
          report = await run.restoreConductor({
            ...base,
            archive: resolve(archive!),
            dryRun: Boolean(flags.dryRun),
            identityFile: flags.identity,
            node: flags.node,
            yes: Boolean(flags.yes),
          });
        }
      } catch (err) {
        const r = err instanceof RecoveryError ? (err.details.report as RestoreReport | undefined) : undefined;
        if (r && !ctx.opts.json) io.stdout(renderReport(r));
        if (err instanceof RecoveryError) delete err.details.report;
        if (r && err instanceof RecoveryError && ctx.opts.json) err.details.report = r;
        throw err;
      }
      printResult(io, ctx.opts.json, report, () => renderReport(report));
    });
}

/** Real ports (restore/from-config.ts) plus an interactive confirmation on a terminal. */
async function portsFromConfig(ctx: CommandContext): Promise<RestorePorts> {
  const { restorePortsFromConfig } = await import('../../restore/from-config.js');
  const base = await restorePortsFromConfig({
    config: ctx.config,
    path: ctx.loaded.path,
    logger: ctx.logger.child({ component: 'restore' }),
  });
  const confirm =
    ctx.io.stdin && ctx.io.isTTY && !ctx.opts.json
      ? async (question: string): Promise<boolean> => {
          const { createInterface } = await import('node:readline/promises');
          const rl = createInterface({ input: ctx.io.stdin!, output: process.stderr });
          try {
            return /^y(es)?$/i.test((await rl.question(`\n!!! ${question} [y/N] `)).trim());
          } finally {
            rl.close();
          }
        }
      : undefined;
  return { ...base, confirm };
}

const MARK = { ok: '✔', warn: '!', fail: '✘', skip: '-' } as const;

/** Human form: findings with a verdict, then the plan (dry-run: every path), then what happened. */
export function renderReport(r: RestoreReport): string {
  const lines: string[] = [
    `${r.mode === 'restore' ? 'restore' : `restore (${r.mode})`}${r.archive ? ` of ${r.archive}` : ''} (root ${r.root})`,
  ];
  if (r.signer) lines.push(`  signer ${r.signer}`);
  for (const f of r.findings) lines.push(`  ${MARK[f.level]} ${f.check}: ${f.summary}`);
  if (r.findings.length)
    lines.push(
      `verdict: ${r.verdict === 'go' ? 'GO' : r.verdict === 'refused' ? 'REFUSED (nothing changed)' : r.verdict}`,
    );
  if (r.plan)
    lines.push(
      `plan: ${r.plan.add} to add, ${r.plan.replace} to replace, ${r.plan.same} identical (left alone), ${r.plan.keep} not in the archive (left alone); ${r.plan.bytesToWrite} bytes to write`,
    );
  if (r.mode === 'dry-run' && r.planEntries) {
    for (const e of r.planEntries) {
      const diff = e.action === 'replace' ? (e.contentDiffers ? ' content differs' : ' mode/owner differs') : '';
      lines.push(
        `  ${e.action.padEnd(7)} ${e.kind.padEnd(4)} ${String(e.size).padStart(10)}  ${e.path}${e.currentSize !== undefined && e.action === 'replace' ? ` (now ${e.currentSize} bytes;${diff})` : ''}`,
      );
    }
  }
  if (r.applied.length) lines.push(`applied: ${r.applied.length} file(s)`);
  for (const c of r.postVerify)
    lines.push(`  ${MARK[c.status === 'pass' ? 'ok' : c.status]} post-verify ${c.name}: ${c.summary}`);
  if (r.rolledBack) lines.push('rolled back: the conductor is in its previous state');
  const t = Object.entries(r.timings)
    .map(([k, v]) => `${k} ${v} ms`)
    .join(', ');
  if (t) lines.push(`timings: ${t}`);
  if (r.ok) lines.push(r.mode === 'dry-run' ? 'dry-run: nothing was changed' : `${r.mode}: ok`);
  return `${lines.join('\n')}\n`;
}
