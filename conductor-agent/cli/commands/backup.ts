/**
 * `conductor-agent backup create|list|verify|prune`. Thin: parse flags, call the backup library,
 * render the report (text, or one JSON document with --json). Library modules load lazily.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { ExitRequest, printResult } from '../../../shared/cli/run.js';
import { ErrorCodes } from '../../../shared/errors.js';
import { ExitCode } from '../../../shared/exit-codes.js';
import { commandContext, type CommandContext } from '../context.js';

const count = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number ≥ 0');
  return n;
};

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
const TRUSTED_SIGNER_HELP =
  'also trust this backup signer: Ed25519 public key (PEM), fingerprint, or a file of them (repeatable)';

/** Trusted backup signers: the identity, backup.trustedSigners and --trusted-signer (backup/signer.ts). */
async function trustedSigners(ctx: CommandContext, extra: string[] | undefined): Promise<ReadonlySet<string>> {
  const { resolveTrustedSigners } = await import('../../backup/signer.js');
  return (await resolveTrustedSigners({ config: ctx.config, path: ctx.loaded.path, extra })).fingerprints;
}

interface ListFlags {
  dir?: string;
  deep?: boolean;
  identity?: string;
  trustedSigner?: string[];
}

const signatureLine = (s: { status: string; fingerprint?: string }): string =>
  `${s.status}${s.fingerprint ? `, signer ${s.fingerprint}` : ''}`;

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function age(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86400)}d`;
}

/** `conductor-agent backup`: create, list, verify and prune conductor backups */
export function register(program: Command, io: CliIo): void {
  const backup = program.command('backup').description('create, list, verify and prune conductor backups');

  backup
    .command('create')
    .description('back up this conductor node (atomic, private, with a SHA-256 manifest)')
    .option('--dir <dir>', 'backup folder (system path; default backup.dir)')
    .option('--no-offbox', 'skip the configured off-box copy')
    .option('--prune', 'apply backup.keep retention after a successful backup')
    .action(async (opts: { dir?: string; offbox: boolean; prune?: boolean }, cmd: Command) => {
      const ctx = commandContext(cmd, io);
      const { createBackup } = await import('../../backup/run.js');
      const { probeSsrVersion } = await import('../../backup/ssr-version.js');
      const { systemProcessRunner } = await import('../../../shared/ports/process-runner.js');
      const ssrVersion = await probeSsrVersion(systemProcessRunner, ctx.loaded.root);
      const progress = io.isTTY && !ctx.opts.json ? await startProgress() : undefined;
      let report;
      try {
        report = await createBackup({
          config: ctx.config,
          root: ctx.loaded.root,
          dir: opts.dir,
          logger: ctx.logger,
          ssrVersion,
          offbox: opts.offbox ? undefined : false,
          prune: opts.prune ? ctx.config.backup.keep : undefined,
          onProgress: progress?.update,
        });
      } finally {
        progress?.stop();
      }
      printResult(io, ctx.opts.json, report, () =>
        [
          `backup written: ${report.archive}`,
          `  node ${report.node} on ${report.host}, ${report.files} files in ${report.folders} folders, ${human(report.size)} (${human(report.contentBytes)} before compression)`,
          `  sha256 ${report.sha256}${report.encrypted ? ' (encrypted with age)' : ''}`,
          ...(report.masterFingerprint ? [`  master.pub fingerprint ${report.masterFingerprint}`] : []),
          `  signed by ${report.signer ?? '(unsigned)'}`,
          ...(report.missingOptional.length ? [`  optional, not present: ${report.missingOptional.join(', ')}`] : []),
          ...report.skipped.map((s) => `  skipped ${s.path}: ${s.reason}`),
          ...(report.offbox
            ? [
                report.offbox.ok
                  ? `  off-box copy verified: ${report.offbox.host}:${report.offbox.remotePath}`
                  : `  off-box copy FAILED: ${String(report.offbox.error?.message)}`,
              ]
            : []),
          ...(report.pruned
            ? [`  retention deleted ${report.pruned.deleted.length}: ${report.pruned.deleted.join(', ') || '-'}`]
            : []),
        ].join('\n'),
      );
      if (report.offbox && !report.offbox.ok) throw new ExitRequest(ErrorCodes.BACKUP_OFFBOX_FAILED.exit);
    });

  backup
    .command('list')
    .description('list backups with age, size, node and checksum state')
    .option('--dir <dir>', 'backup folder (system path; default backup.dir)')
    .option('--deep', 'verify every archive fully (manifest and member hashes)')
    .option('--identity <file>', 'age identity file, to verify encrypted archives with --deep')
    .option('--trusted-signer <key>', TRUSTED_SIGNER_HELP, collect)
    .action(async (opts: ListFlags, cmd: Command) => {
      const ctx = commandContext(cmd, io);
      const { listBackups } = await import('../../backup/list.js');
      const dir = ctx.loaded.path(opts.dir ?? ctx.config.backup.dir);
      const trusted = await trustedSigners(ctx, opts.trustedSigner);
      const check = opts.deep ? 'deep' : 'sidecar';
      const { allowlistForConfig } = await import('../../restore/allowlist.js');
      const allowlist = allowlistForConfig(ctx.config);
      const { readRestoreTests } = await import('../../backup/restore-test.js');
      const restoreTests = await readRestoreTests(ctx.loaded.path(ctx.config.agents.stateDir));
      const items = await listBackups(dir, {
        check,
        identityFile: opts.identity,
        trustedSigners: trusted,
        allowlist,
        restoreTests,
      });
      const empty = `no backups in ${dir}`;
      printResult(io, ctx.opts.json, { ok: true, dir, backups: items }, () =>
        items.length === 0
          ? empty
          : [
              'AGE    SIZE       NODE            CHECK        SIGNATURE  SIGNER           NAME',
              ...items.map((b) =>
                [
                  age(b.ageSeconds).padEnd(6),
                  human(b.size).padEnd(10),
                  (b.node ?? '?').padEnd(15),
                  (
                    b.verified ??
                    (b.kind === 'hand-made' && b.sidecar === 'missing' ? 'hand-made' : `sidecar-${b.sidecar}`)
                  ).padEnd(12),
                  (b.signature ?? '-').padEnd(10),
                  (b.signer ? `${b.signer.slice(0, 14)}…` : '-').padEnd(16),
                  b.name,
                ].join(' '),
              ),
            ].join('\n'),
      );
    });

  backup
    .command('verify')
    .description('re-check an archive: sidecar hash, manifest, every member')
    .argument('<archive>', 'archive path (as on this machine, not under --root)')
    .option('--identity <file>', 'age identity file for .tar.gz.age archives')
    .option('--trusted-signer <key>', TRUSTED_SIGNER_HELP, collect)
    .option(
      '--restore-test',
      'also restore it into a private sandbox and check it end to end (key pair, datastores, ' +
        'minion keys, agent identity, signature); the live conductor is not touched',
    )
    .option('--keep-sandbox', 'with --restore-test: leave the sandbox for inspection')
    .addHelpText(
      'after',
      '\nExit status: 0 verified (or a manifest-less seed archive that reads cleanly);\n' +
        '7 a difference, a bad or untrusted signature, an unsigned manifest (restore asks for --yes),\n' +
        '  or a failed restore-test; 3 a trusted signer that is not a key or fingerprint.',
    )
    .action(async (archive: string, opts: VerifyCliOptions, cmd: Command) => {
      const ctx = commandContext(cmd, io);
      const { verifyArchive } = await import('../../backup/verify.js');
      const { allowlistForConfig } = await import('../../restore/allowlist.js');
      const trusted = await trustedSigners(ctx, opts.trustedSigner);
      // The restore set of this configuration: what verifies is what restore accepts.
      const allowlist = allowlistForConfig(ctx.config);
      const report = await verifyArchive(archive, { identityFile: opts.identity, trustedSigners: trusted, allowlist });
      if (opts.restoreTest) {
        const { restoreTest, renderRestoreTest } = await import('../../backup/restore-test.js');
        const result = await restoreTest({
          archive,
          config: ctx.config,
          root: ctx.loaded.root,
          identityFile: opts.identity,
          trustedSigners: trusted,
          keepSandbox: opts.keepSandbox,
          logger: ctx.logger,
        });
        printResult(io, ctx.opts.json, { ...report, restoreTest: result }, () => renderRestoreTest(result));
        if (!result.ok) throw new ExitRequest(ExitCode.VERIFY_FAILED);
        return;
      }
      printResult(io, ctx.opts.json, report, () =>
        [
          `${report.status.toUpperCase()}: ${report.archive}`,
          ...(report.manifest
            ? [
                `  node ${report.manifest.node} on ${report.manifest.host}, made ${report.manifest.createdAt}, ${report.manifest.entryCount} entries`,
              ]
            : []),
          ...(report.signature ? [`  signature: ${signatureLine(report.signature)}`] : []),
          `  sidecar: ${report.sidecar}; members read: ${report.members}`,
          ...report.notes.map((n) => `  note: ${n}`),
          ...report.differences.map((d) => `  DIFF ${d.kind}: ${d.message}`),
        ].join('\n'),
      );
      if (!report.ok || report.status === 'unsigned') throw new ExitRequest(ExitCode.VERIFY_FAILED);
    });

  backup
    .command('prune')
    .description('delete backups the retention policy does not keep (defaults: backup.keep)')
    .option('--dir <dir>', 'backup folder (system path; default backup.dir)')
    .option('--keep-last <n>', 'keep the newest N', count)
    .option('--keep-daily <n>', 'keep the newest of each of the last N days with backups', count)
    .option('--keep-weekly <n>', 'keep the newest of each of the last N ISO weeks with backups', count)
    .option('--dry-run', 'show what would be deleted, delete nothing')
    .action(
      async (
        opts: { dir?: string; keepLast?: number; keepDaily?: number; keepWeekly?: number; dryRun?: boolean },
        cmd: Command,
      ) => {
        const ctx = commandContext(cmd, io);
        const { pruneBackups } = await import('../../backup/prune.js');
        const keep = ctx.config.backup.keep;
        const report = await pruneBackups(
          ctx.loaded.path(opts.dir ?? ctx.config.backup.dir),
          {
            last: opts.keepLast ?? keep.last,
            daily: opts.keepDaily ?? keep.daily,
            weekly: opts.keepWeekly ?? keep.weekly,
          },
          { dryRun: opts.dryRun, logger: ctx.logger },
        );
        printResult(io, ctx.opts.json, { ok: true, ...report }, () =>
          [
            `${report.dryRun ? 'would delete' : 'deleted'} ${report.deleted.length}, kept ${report.kept.length}${report.ignored.length ? `, ignored ${report.ignored.length} hand-made` : ''}`,
            ...report.deleted.map((n) => `  - ${n}`),
            ...report.kept.map((k) => `  + ${k.name} (${k.reasons.join(', ')})`),
          ].join('\n'),
        );
      },
    );
}

async function startProgress(): Promise<{ update: (done: number, total: number) => void; stop: () => void }> {
  const { SingleBar, Presets } = (await import('cli-progress')).default;
  const bar = new SingleBar(
    { stream: process.stderr, format: 'backup [{bar}] {percentage}% | {value}/{total} MiB', hideCursor: true },
    Presets.shades_classic,
  );
  let started = false;
  let last = 0;
  return {
    update(done, total) {
      const mib = (n: number) => Math.round(n / 1048576);
      if (!started) {
        bar.start(Math.max(1, mib(total)), 0);
        started = true;
      }
      if (done - last >= 1048576 || done === total) {
        bar.update(mib(done));
        last = done;
      }
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

interface VerifyCliOptions {
  identity?: string;
  trustedSigner?: string[];
  restoreTest?: boolean;
  keepSandbox?: boolean;
}
