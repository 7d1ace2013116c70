/**
 * `conductor-agent keys status|fingerprint|enable-signing|rotate|accept`: the Salt master key
 * lifecycle (library: conductor-agent/keys). Every command that changes the system takes
 * `--dry-run` and lists every change; reports are `--json` documents.
 */
import { Option, type Command } from 'commander';
import type { CliIo } from '../../../shared/cli/io.js';
import { ExitRequest, printResult } from '../../../shared/cli/run.js';
import { ExitCode } from '../../../shared/exit-codes.js';
import { UsageError } from '../../../shared/errors.js';
import { FaultSwitch } from '../../../shared/fault.js';
import { commandContext, type CommandContext } from '../context.js';
import type { MinionProbe } from '../../keys/minion-probe.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

function paths(ctx: CommandContext): { pkiDir: string; masterConfig: string } {
  return {
    pkiDir: ctx.loaded.path(ctx.config.salt.pkiDir),
    masterConfig: ctx.loaded.path(ctx.config.salt.masterConfig),
  };
}

/** The rotation/rollback ports: salt-master service control, minion probe over salt-api, clock. */
async function rotationPorts(ctx: CommandContext) {
  const { commandServiceControl } = await import('../../../shared/ports/service-control.js');
  const { systemClock } = await import('../../../shared/ports/clock.js');
  const { saltApiProbeFromConfig } = await import('../../keys/salt-ports.js');
  const svc = ctx.config.services['salt-master'] ?? {};
  return {
    service: commandServiceControl({ name: 'salt-master', unit: svc.unit ?? 'salt-master', commands: svc }),
    // Built on first use, so refusals that need no minion (signing off, keys missing) do not need salt-api.
    probe: lazyProbe(() => saltApiProbeFromConfig(ctx)),
    clock: systemClock,
    rotationsDir: rotationsDirOf(ctx),
  };
}

function rotationsDirOf(ctx: CommandContext): string {
  return ctx.loaded.path(ctx.config.keys.rotationsDir ?? `${ctx.config.agents.stateDir}/keys/rotations`);
}

function lazyProbe(make: () => Promise<MinionProbe>): MinionProbe {
  let p: Promise<MinionProbe> | undefined;
  const get = (): Promise<MinionProbe> => (p ??= make());
  return {
    signingReports: async (ids) => (await get()).signingReports(ids),
    ping: async (ids) => (await get()).ping(ids),
  };
}

function waitMs(ctx: CommandContext, wait: string | undefined): number {
  if (wait === undefined) return ctx.config.keys.waitSeconds * 1000;
  const n = Number(wait);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--wait must be a number of seconds, got ${wait}`);
  return n * 1000;
}

/** `conductor-agent keys …` */
export function register(program: Command, io: CliIo): void {
  const keys = program
    .command('keys')
    .description('Salt master key lifecycle: status, fingerprint, enable-signing, rotate, accept');

  keys
    .command('status')
    .description(
      'master key fingerprint, signed-master-key state, minion key counts and pending keys with fingerprints',
    )
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = commandContext(cmd, io);
      const { masterKeyStatus } = await import('../../keys/status.js');
      const { renderStatus } = await import('../../keys/render.js');
      const { readConductorIdentityPublic } = await import('../../identity/agent-key.js');
      const s = await masterKeyStatus(paths(ctx));
      // What the router salt state pins (salt-states defaults: conductor_agent_public_key, conductor_cert_fingerprint).
      const agent =
        (await readConductorIdentityPublic(ctx.loaded.path(ctx.config.agents.stateDir)).catch(() => undefined)) ?? null;
      printResult(
        io,
        ctx.opts.json,
        { ok: true, ...s, agent },
        () =>
          renderStatus(s) +
          (agent
            ? `\nconductor-agent identity (pin on routers):\n  certFingerprint: ${agent.certFingerprint}\n  signing key fingerprint: ${agent.signingFingerprint}\n${agent.agentPublicKey.trimEnd()}\n`
            : '\nconductor-agent identity: not created yet (the daemon creates it on first start)\n'),
      );
    });

  keys
    .command('fingerprint [file]')
    .description("Salt-compatible fingerprint of a public key file (default: the master's master.pub)")
    .addOption(
      new Option('--hash-type <type>', 'hash (Salt hash_type)')
        .choices(['sha256', 'sha224', 'sha384', 'sha512', 'sha1', 'md5'])
        .default('sha256'),
    )
    .action(async (file: string | undefined, o: { hashType: 'sha256' }, cmd: Command) => {
      const ctx = commandContext(cmd, io);
      const { pemFingerFile } = await import('../../../shared/salt/fingerprint.js');
      const path = file ?? `${paths(ctx).pkiDir}/master.pub`;
      const fingerprint = await pemFingerFile(path, o.hashType);
      printResult(
        io,
        ctx.opts.json,
        { ok: true, file: path, hashType: o.hashType, fingerprint },
        () => `${fingerprint}\n`,
      );
    });

  keys
    .command('enable-signing')
    .description('create the master_sign pair, turn on master_sign_pubkey, sign master.pub, export master_sign.pub')
    .option('--dry-run', 'list every change, write nothing')
    .option('--precomputed', 'also use the precomputed signature file (master_use_pubkey_signature)')
    .option('--export-dir <dir>', 'where to export master_sign.pub (default keys.exportDir)')
    .action(async (o: { dryRun?: boolean; precomputed?: boolean; exportDir?: string }, cmd: Command) => {
      const ctx = commandContext(cmd, io, { overrides: { 'keys.exportDir': o.exportDir } });
      const { enableSigning } = await import('../../keys/enable-signing.js');
      const { renderEnableSigning } = await import('../../keys/render.js');
      const r = await enableSigning({
        ...paths(ctx),
        exportDir: ctx.loaded.path(ctx.config.keys.exportDir),
        lockPath: `${rotationsDirOf(ctx)}/.lock`,
        fault: FaultSwitch.fromEnv(io.env, 'KEYS'),
        dryRun: o.dryRun === true,
        precomputed: o.precomputed === true,
      });
      printResult(io, ctx.opts.json, { ok: true, ...r }, () => renderEnableSigning(r));
    });

  keys
    .command('rotate')
    .description(
      'planned master key rotation with zero router touch (needs signed master keys); --rollback restores the kept pair',
    )
    .option('--dry-run', 'check readiness and list every change, write nothing')
    .option('--force', 'rotate even if some minions have not shown they verify signatures (they will drop off)')
    .option('--wait <seconds>', 'how long to wait for minions after the restart (default keys.waitSeconds)')
    .option('--sign-key <file>', 'the master_sign private key, when it is not kept in the pki folder')
    .option('--rollback', 'put back the pair kept by the last (or --rotation-id) rotation')
    .option('--rotation-id <id>', 'with --rollback: which rotation')
    .action(
      async (
        o: {
          dryRun?: boolean;
          force?: boolean;
          wait?: string;
          signKey?: string;
          rollback?: boolean;
          rotationId?: string;
        },
        cmd: Command,
      ) => {
        const ctx = commandContext(cmd, io);
        if (o.rotationId && !o.rollback) throw new UsageError('--rotation-id only goes with --rollback');
        const ports = await rotationPorts(ctx);
        const render = await import('../../keys/render.js');
        const common = {
          ...paths(ctx),
          ...ports,
          waitMs: waitMs(ctx, o.wait),
          dryRun: o.dryRun === true,
          logger: ctx.logger,
          fault: FaultSwitch.fromEnv(io.env, 'KEYS'),
        };
        if (o.rollback) {
          const { rollbackRotation } = await import('../../keys/rollback.js');
          const r = await rollbackRotation({ ...common, ...(o.rotationId ? { rotationId: o.rotationId } : {}) });
          printResult(io, ctx.opts.json, { ok: r.missing.length === 0, ...r }, () => render.renderRollback(r));
          if (r.missing.length) throw new ExitRequest(ExitCode.PARTIAL);
          return;
        }
        const { rotateMasterKey } = await import('../../keys/rotate.js');
        const r = await rotateMasterKey({
          ...common,
          force: o.force === true,
          ...(o.signKey ? { signKeyFile: o.signKey } : {}),
        });
        printResult(io, ctx.opts.json, { ok: r.missing.length === 0, ...r }, () => render.renderRotate(r));
        if (r.missing.length) throw new ExitRequest(ExitCode.PARTIAL);
      },
    );

  keys
    .command('accept')
    .description('accept pending minion keys only when their fingerprint matches the expected one')
    .option('--verified', 'required: accept only verified keys (there is no unverified mode)')
    .option(
      '--expected <file>',
      'expected fingerprints: JSON {id: finger} or "id finger" lines (default keys.expectedFingerprintsFile, else the fingerprints router agents reported, signed)',
    )
    .option('--expect <id=finger>', 'one expected fingerprint (repeatable)', collect, [])
    .option('--minion <id>', 'only this pending minion (repeatable)', collect, [])
    .option('--dry-run', 'list what would be accepted, change nothing')
    .action(
      async (
        o: { verified?: boolean; expected?: string; expect: string[]; minion: string[]; dryRun?: boolean },
        cmd: Command,
      ) => {
        const ctx = commandContext(cmd, io);
        if (!o.verified)
          throw new UsageError(
            'keys accept needs --verified: pending keys are accepted only against an expected fingerprint',
          );
        const ex = await import('../../keys/expected-fingerprints.js');
        const file =
          o.expected ??
          (ctx.config.keys.expectedFingerprintsFile
            ? ctx.loaded.path(ctx.config.keys.expectedFingerprintsFile)
            : undefined);
        const merged = new Map<string, string>();
        if (file) for (const [k, v] of ex.parseExpectedFingerprints(await readText(file), file)) merged.set(k, v);
        for (const [k, v] of ex.expectedFromFlags(o.expect)) merged.set(k, v);
        let source = [file, o.expect.length ? '--expect' : undefined].filter(Boolean).join(' + ');
        if (merged.size === 0) {
          // Default: the minion key fingerprints the routers' agents reported, signed (kept in the registry).
          const { registryExpected } = await import('../../keys/expected-fingerprints.js');
          const { registryLockPath } = await import('../../ws/service.js');
          const reg = await registryExpected(
            ctx.loaded.path(ctx.config.agents.stateDir),
            registryLockPath(ctx.loaded.path),
          );
          for (const [k, v] of reg) merged.set(k, v);
          source = 'agent registry (signed reports)';
        }
        if (merged.size === 0)
          throw new UsageError(
            'no expected fingerprints: no router agent has reported one; give --expected FILE or --expect id=finger',
          );
        const { acceptVerified } = await import('../../keys/accept.js');
        const { renderAccept } = await import('../../keys/render.js');
        const r = await acceptVerified({
          ...paths(ctx),
          expected: ex.staticExpected(merged, source),
          dryRun: o.dryRun === true,
          ...(o.minion.length ? { only: o.minion } : {}),
        });
        const ok = r.mismatch.length === 0 && r.failed.length === 0;
        printResult(io, ctx.opts.json, { ok, ...r }, () => renderAccept(r));
        if (!ok) throw new ExitRequest(ExitCode.VERIFY_FAILED);
      },
    );
}

async function readText(path: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const { KeysError } = await import('../../../shared/errors.js');
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new KeysError('KEYS_EXPECTED_INVALID', `cannot read ${path}: ${(err as Error).message}`, {
      cause: err,
      details: { path },
    });
  }
}
