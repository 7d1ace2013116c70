/**
 * `backup verify --restore-test`: answer "is this backup actually restorable?" before a disaster.
 * The archive is restored with the real restore pipeline into a private sandbox root (no service is
 * stopped, nothing outside the sandbox is touched), then checked end to end: every file against its
 * manifest hash, the master key pair, the datastores, the minion keys, the conductor-agent identity
 * and the archive's signature. The sandbox is removed afterwards; the result is remembered beside
 * the conductor-agent state so `backup list`, the metrics and the status page can show it.
 */
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import type { ConductorConfig } from '../../shared/config/schema.js';
import { underRoot } from '../../shared/config/schema.js';
import { RecoveryError } from '../../shared/errors.js';
import { ensureDir, PRIVATE_DIR_MODE, writeFileAtomic } from '../../shared/fs/atomic.js';
import { nullLogger, type Logger } from '../../shared/log/logger.js';
import { observeSink } from '../../shared/observe/sink.js';
import { systemClock, type Clock } from '../../shared/ports/clock.js';
import type { Manifest } from '../../shared/backup/format.js';

export interface RestoreTestCheck {
  name: string;
  ok: boolean;
  detail?: string | undefined;
}

export interface RestoreTestResult {
  archive: string;
  ok: boolean;
  at: string;
  durationMs: number;
  checks: RestoreTestCheck[];
}

export interface RestoreTestOptions {
  archive: string;
  /** The live conductor configuration (its system paths are resolved under the sandbox). */
  config: ConductorConfig;
  /** Root of the live system (`/`): where the result is remembered. */
  root: string;
  identityFile?: string | undefined;
  /** Folder the sandbox is made in (default `<root>/var/lib/ssr-recovery-restore-test`, private). */
  sandboxParent?: string | undefined;
  keepSandbox?: boolean | undefined;
  /** Trusted signers (default: as the live conductor trusts: its identity and backup.trustedSigners). */
  trustedSigners?: ReadonlySet<string> | undefined;
  logger?: Logger;
  clock?: Clock;
}

const PKI = '/etc/128technology/salt/pki/master';
const RESULTS_FILE = 'restore-tests.json';
const KEEP_RESULTS = 50;

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function exists(path: string): Promise<boolean> {
  return fsp.stat(path).then(
    () => true,
    () => false,
  );
}

/** Run one check; an exception is a failed check, never a crash of the whole test. */
async function check(name: string, fn: () => Promise<string | undefined>): Promise<RestoreTestCheck> {
  try {
    return { name, ok: true, detail: await fn() };
  } catch (err) {
    return {
      name,
      ok: false,
      detail: err instanceof RecoveryError ? `${err.code}: ${err.message}` : (err as Error).message,
    };
  }
}

export async function restoreTest(o: RestoreTestOptions): Promise<RestoreTestResult> {
  const clock = o.clock ?? systemClock;
  const logger = (o.logger ?? nullLogger).child({ component: 'restore-test' });
  const started = clock.now();
  const parent = o.sandboxParent ?? underRoot(o.root, '/var/lib/ssr-recovery-restore-test');
  await ensureDir(parent, PRIVATE_DIR_MODE);
  const sandbox = await fsp.mkdtemp(join(parent, 'sandbox-'));
  await fsp.chmod(sandbox, PRIVATE_DIR_MODE);
  const checks: RestoreTestCheck[] = [];
  try {
    const { verifyArchive } = await import('./verify.js');
    const { resolveTrustedSigners } = await import('./signer.js');
    const { allowlistForConfig } = await import('../restore/allowlist.js');
    // Trusted as the live conductor trusts (its own identity, backup.trustedSigners), not the empty sandbox.
    const trustedSigners =
      o.trustedSigners ??
      (await resolveTrustedSigners({ config: o.config, path: (p) => underRoot(o.root, p) })).fingerprints;
    const verified = await verifyArchive(o.archive, {
      identityFile: o.identityFile,
      trustedSigners,
      allowlist: allowlistForConfig(o.config),
      keepEntries: true,
    });
    const manifest: Manifest | undefined =
      verified.manifest && verified.entries
        ? ({ ...verified.manifest, entries: verified.entries } as unknown as Manifest)
        : undefined;
    checks.push(signatureCheck(verified));
    await seedSandbox(o.root, sandbox);
    checks.push(
      await check('restore', async () => {
        const { restoreConductor } = await import('../restore/run.js');
        const report = await restoreConductor({
          archive: o.archive,
          root: sandbox,
          config: o.config,
          identityFile: o.identityFile,
          node: manifest?.node,
          yes: true,
          trustedSigners,
          ports: { services: [], logger, flush: async () => undefined },
        });
        return `${report.applied.length} path(s) restored into the sandbox`;
      }),
    );
    if (checks.at(-1)!.ok) checks.push(...(await sandboxChecks(sandbox, o.config, manifest)));
  } finally {
    if (!o.keepSandbox) await fsp.rm(sandbox, { recursive: true, force: true });
  }
  const result: RestoreTestResult = {
    archive: basename(o.archive),
    ok: checks.every((c) => c.ok),
    at: new Date(clock.now()).toISOString(),
    durationMs: clock.now() - started,
    checks,
  };
  await rememberResult(underRoot(o.root, o.config.agents.stateDir), result).catch((err: unknown) =>
    logger.warn('cannot remember the restore-test result', { error: (err as Error).message }),
  );
  observeSink().restoreTestFinished({ ok: result.ok, archive: result.archive, at: clock.now() });
  logger[result.ok ? 'info' : 'error']('restore-test finished', {
    archive: result.archive,
    ok: result.ok,
    failed: checks.filter((c) => !c.ok).map((c) => c.name),
  });
  return result;
}

/** Restore wants an initialised conductor (initialize128t wrote global.init and local.init): lend it the live ones. */
async function seedSandbox(root: string, sandbox: string): Promise<void> {
  for (const f of ['/etc/128technology/global.init', '/etc/128technology/local.init']) {
    const text = await fsp.readFile(underRoot(root, f)).catch(() => undefined);
    if (text === undefined) continue;
    await fsp.mkdir(underRoot(sandbox, '/etc/128technology'), { recursive: true });
    await fsp.writeFile(underRoot(sandbox, f), text, { mode: 0o644 });
  }
}

function signatureCheck(verified: {
  status: string;
  signature?: { status?: string; fingerprint?: string | undefined };
}): RestoreTestCheck {
  const sig = verified.signature;
  if (verified.status !== 'verified')
    return { name: 'archive verified', ok: false, detail: `verify says ${verified.status}` };
  if (!sig) return { name: 'signature trusted', ok: false, detail: 'the archive carries no signature information' };
  const ok = sig.status === 'signed'; // signed by a trusted key (shared/backup/signature.ts)
  return {
    name: 'signature trusted',
    ok,
    detail: `${ok ? 'signed by a trusted key' : (sig.status ?? 'unknown')}${sig.fingerprint ? ` (${sig.fingerprint})` : ''}`,
  };
}

async function sandboxChecks(
  sandbox: string,
  config: ConductorConfig,
  manifest: Manifest | undefined,
): Promise<RestoreTestCheck[]> {
  const at = (p: string): string => underRoot(sandbox, p);
  const pki = at(config.salt.pkiDir ?? PKI);
  return Promise.all([
    check('files match their manifest hashes', async () => {
      if (!manifest) throw new Error('no manifest: nothing to compare the restored files with');
      let n = 0;
      for (const e of manifest.entries) {
        if (e.type !== 'file' || !e.sha256) continue;
        const got = await sha256(join(sandbox, e.path));
        if (got !== e.sha256) throw new Error(`/${e.path}: restored content differs from the manifest`);
        n++;
      }
      return `${n} file(s)`;
    }),
    check('master key pair matches', async () => {
      const priv = createPrivateKey(await fsp.readFile(join(pki, 'master.pem')));
      const pub = createPublicKey(await fsp.readFile(join(pki, 'master.pub')));
      const a = createPublicKey(priv).export({ type: 'spki', format: 'der' });
      if (!a.equals(pub.export({ type: 'spki', format: 'der' })))
        throw new Error('master.pub is not the public half of master.pem');
      return undefined;
    }),
    check('datastores parse', async () => {
      const names = ['/var/lib/128technology/t128-running.json', '/var/lib/128technology/user-running.json'];
      const present = [];
      for (const n of names) {
        if (!(await exists(at(n)))) continue;
        JSON.parse(await fsp.readFile(at(n), 'utf8'));
        present.push(basename(n));
      }
      if (present.length === 0) throw new Error('no running configuration in the backup');
      return present.join(', ');
    }),
    check('minion keys are valid keys', async () => {
      const dir = join(pki, 'minions');
      const names = await fsp.readdir(dir).catch(() => [] as string[]);
      for (const n of names) {
        try {
          createPublicKey(await fsp.readFile(join(dir, n)));
        } catch {
          throw new Error(`minions/${n} is not a public key`);
        }
      }
      return `${names.length} accepted minion key(s)`;
    }),
    check('conductor-agent identity loads', async () => {
      const state = at(config.agents.stateDir);
      if (!(await exists(state))) return 'no agent state in this backup';
      const { AGENT_KEY_FILES } = await import('../identity/agent-key.js');
      const files = AGENT_KEY_FILES as Record<string, string>;
      const read = (k: string): Promise<Buffer> => fsp.readFile(join(state, files[k]!));
      const signing = createPrivateKey(await read('signingKey'));
      if (signing.asymmetricKeyType !== 'ed25519') throw new Error('the signing key is not Ed25519');
      new X509Certificate(await read('tlsCert'));
      createPrivateKey(await read('tlsKey'));
      return 'signing key and TLS certificate';
    }),
  ]);
}

async function rememberResult(stateDir: string, result: RestoreTestResult): Promise<void> {
  const file = join(stateDir, RESULTS_FILE);
  const known = await readRestoreTests(stateDir);
  known[result.archive] = result;
  const newest = Object.values(known)
    .sort((a, b) => b.at.localeCompare(a.at))
    .slice(0, KEEP_RESULTS);
  await ensureDir(stateDir, PRIVATE_DIR_MODE);
  await writeFileAtomic(file, `${JSON.stringify(Object.fromEntries(newest.map((r) => [r.archive, r])), null, 2)}\n`, {
    mode: 0o600,
  });
}

/** Remembered results by archive name (empty when none or unreadable). */
export async function readRestoreTests(stateDir: string): Promise<Record<string, RestoreTestResult>> {
  try {
    const doc = JSON.parse(await fsp.readFile(join(stateDir, RESULTS_FILE), 'utf8')) as unknown;
    return doc && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, RestoreTestResult>) : {};
  } catch {
    return {};
  }
}

/** Human text for the CLI. */
export function renderRestoreTest(r: RestoreTestResult): string {
  return [
    `RESTORE-TEST ${r.ok ? 'PASSED' : 'FAILED'}: ${r.archive} (${(r.durationMs / 1000).toFixed(1)} s)`,
    ...r.checks.map((c) => `  ${c.ok ? 'pass' : 'FAIL'} ${c.name}${c.detail ? `: ${c.detail}` : ''}`),
  ].join('\n');
}
