/**
 * The disaster-recovery drill (DESIGN.md "The main job") on an embedded sandbox under a temp
 * folder: a conductor (Salt master + salt-api + SSR API + conductor-agent) on one loopback address
 * and routers (simulated salt-minion + real router-agent daemon) each under their own root.
 *
 *  1. build     the sandbox; routers trust the conductor, agents enrolled over a Salt event
 *  2. backup    verified, private, atomic; the archive is copied off the conductor
 *  3. disaster  the conductor is lost: services down, disk wiped (master key and agent key gone)
 *  4. rebuild   same address; the new Salt master makes a new key and knows no minion keys, so
 *               every minion is held pending (never accepted blindly); a conductor-agent with a new
 *               identity is refused by every router agent (pinned key)
 *  5. restore   the backup: 128T stopped, staged, verified, applied, started, post-verified;
 *               routers come back by themselves (same key, same agent identity)
 *  6. rekey     the lost disk held the master private key: replace it; every minion now refuses the
 *               new key and every router agent reports it (detected from the minion log)
 *  7. reauth    the fleet wave (drill/wave.ts), at most --rate routers started per second: each
 *               router through its agent (signed command with the new key's fingerprint → pin
 *               master_finger, drop the stale key, restart, confirm → signed report), done only when
 *               it answers test.ping through salt-api; progress per router, achieved rate reported
 *  7b. agentless a router without an agent brought back over SSH (drill/agentless.ts; real sshd on
 *               loopback when installed, otherwise "skipped: <reason>")
 *  8. verify    ports, routers Running, minions answering test.ping
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { makeConductorTree } from '../../sandbox/conductor-tree.js';
import { loadConfig } from '../../shared/config/load.js';
import { RecoveryError } from '../../shared/errors.js';
import { writeFileAtomic, ensureDir, PRIVATE_DIR_MODE } from '../../shared/fs/atomic.js';
import { pemFingerFile } from '../../shared/salt/fingerprint.js';
import { systemClock } from '../../shared/ports/clock.js';
import { nullLogger, type Logger } from '../../shared/log/logger.js';
import { CHECKSUM_SUFFIX } from '../../shared/backup/format.js';
import { createBackup } from '../backup/run.js';
import { verifyArchive } from '../backup/verify.js';
import { allowlistForConfig } from '../restore/allowlist.js';
import { restoreConductor } from '../restore/run.js';
import { generateSaltKeyPair } from '../keys/rsa.js';
import { createHttpSsrConductor } from '../ssr/http-conductor.js';
import { runVerify } from '../verify/run.js';
import { minionPing } from '../verify/from-config.js';
import { ConductorSide, PKI_DIR, STATE_DIR, writeConductorConfig } from './conductor-side.js';
import { SimRouter } from './router-side.js';
import { runSteps, type Step, type StepResult } from './steps.js';
import { drillWave } from './wave.js';
import { runAgentless } from './agentless.js';
import { freePort } from '../../shared/net/free-port.js';

/** The drill wave's start rate: low enough to see the limit at work with a few routers. */
const DEFAULT_DRILL_RATE = 5;

export interface DrillOptions {
  /** Number of simulated routers (default 3). */
  routers?: number;
  /** Sandbox folder (default: a new temp folder, removed afterwards unless `keep`). */
  sandbox?: string | undefined;
  keep?: boolean;
  /** Loopback address of the conductor (default 127.0.0.2). */
  host?: string;
  /** Re-authentications started per second in the wave (default 5; 0 = no limit). */
  rate?: number;
  logger?: Logger;
  onProgress?: (line: string) => void;
}

export interface DrillRouterResult {
  id: string;
  trustAfterRekey?: string | undefined;
  reauthOk?: boolean;
  reauthMs?: number;
  fingerprint?: string | undefined;
  channel?: string | undefined;
  error?: string;
}

export interface DrillReport {
  ok: boolean;
  sandbox: string;
  kept: boolean;
  steps: StepResult[];
  routers: DrillRouterResult[];
  durationMs: number;
}

interface Ctx {
  o: Required<Pick<DrillOptions, 'routers' | 'host'>> & DrillOptions;
  logger: Logger;
  dir: string;
  conductorRoot: string;
  offsite: string;
  side: ConductorSide;
  routers: SimRouter[];
  ids: string[];
  archive?: string;
  /** Fingerprint of the key that signed the backup: what the operator keeps off-box (docs/backups.md). */
  backupSigner?: string | undefined;
  results: Map<string, DrillRouterResult>;
  oldFingerprint?: string;
  newFingerprint?: string;
  /** The replaced master public key (what an agentless router still caches). */
  staleMasterPub?: string;
}

/** Poll `check` until it returns a value (not undefined) or time runs out. */
async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined> | T | undefined,
  pollMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new RecoveryError(
        'VERIFY_FAILED',
        `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`,
        { cause: lastErr },
      );
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

const conductorConfig = (ctx: Ctx) => loadConfig({ agent: 'conductor-agent', root: ctx.conductorRoot, env: {} }).config;

function fleetTrust(ctx: Ctx): Map<string, { connected: boolean; trust?: string | undefined }> {
  return new Map((ctx.side.agents?.fleet() ?? []).map((e) => [e.routerId, { connected: e.connected, trust: e.trust }]));
}

async function acceptPending(ctx: Ctx): Promise<void> {
  const keys = await ctx.side.client!.keys();
  for (const id of keys.minions_pre ?? [])
    if (ctx.ids.includes(id)) await ctx.side.client!.wheelReturn('key.accept', { match: id });
}

const steps: Step<Ctx>[] = [
  {
    name: 'build',
    title:
      'Build the sandbox: conductor (Salt master, salt-api, SSR API, conductor-agent) and routers (minion + router agent)',
    async run(ctx, facts) {
      await makeConductorTree(ctx.conductorRoot, {
        routers: ctx.o.routers,
        minions: 0,
        states: 4,
        host: ctx.o.host,
        conductorName: 'drill-conductor',
        nodeName: 'drill-a',
      });
      await writeConductorConfig(ctx.side.o);
      await ctx.side.start128T();
      await ctx.side.startAgent();
      ctx.oldFingerprint = await pemFingerFile(ctx.side.path(`${PKI_DIR}/master.pub`));
      const identity = ctx.side.identity!;
      for (const r of ctx.routers) {
        await r.install();
        await r.startMinion();
      }
      // SSR accepts a minion key whose asset id is in its configuration (reference/ssr.md §3.5).
      await waitFor('every minion key to reach the master', 30_000, async () => {
        await acceptPending(ctx);
        const connected = ctx.side.master.connected();
        return ctx.ids.every((id) => connected.includes(id)) ? true : undefined;
      });
      for (const r of ctx.routers) await r.startAgent();
      await waitFor('every router agent to connect, enroll over Salt and report trust', 60_000, () => {
        const fleet = fleetTrust(ctx);
        return ctx.ids.every(
          (id) => fleet.get(id)?.connected && fleet.get(id)?.trust === 'trusted' && ctx.side.registry?.get(id),
        )
          ? true
          : undefined;
      });
      Object.assign(facts, {
        conductor: `${ctx.o.host} (salt-api ${ctx.side.o.ports.api}, agents ${ctx.side.o.ports.agents})`,
        routers: ctx.ids.length,
        masterFingerprint: ctx.oldFingerprint,
        agentCertFingerprint: identity.certFingerprint,
        enrolledOverSalt: ctx.ids.length,
      });
    },
  },
  {
    name: 'backup',
    title: 'Back up the conductor (manifest + SHA-256 per file, 0600, atomic) and copy it off the box',
    async run(ctx, facts) {
      const config = conductorConfig(ctx);
      const report = await createBackup({ config, root: ctx.conductorRoot, logger: ctx.logger });
      const verified = await verifyArchive(report.archive, { allowlist: allowlistForConfig(config) });
      if (!verified.ok)
        throw new RecoveryError(
          'ARCHIVE_HASH_MISMATCH',
          `the new backup does not verify: ${JSON.stringify(verified.differences.slice(0, 3))}`,
        );
      await mkdir(ctx.offsite, { recursive: true, mode: 0o700 });
      ctx.archive = join(ctx.offsite, report.fileName);
      ctx.backupSigner = report.signer;
      await copyFile(report.archive, ctx.archive);
      await copyFile(report.archive + CHECKSUM_SUFFIX, ctx.archive + CHECKSUM_SUFFIX);
      Object.assign(facts, {
        archive: report.fileName,
        bytes: report.size,
        files: report.files,
        sha256: report.sha256,
        verify: verified.status,
        signer: report.signer,
        backupMs: report.durationMs,
      });
    },
  },
  {
    name: 'disaster',
    title: 'Lose the conductor: services down, disk wiped (Salt master key and conductor-agent key gone)',
    async run(ctx, facts) {
      await ctx.side.close();
      await rm(ctx.conductorRoot, { recursive: true, force: true });
      facts.wiped = ctx.conductorRoot;
    },
  },
  {
    name: 'rebuild',
    title:
      'Rebuild the conductor at the same address: a new Salt master key, every minion held pending, an unpinned conductor-agent refused',
    async run(ctx, facts) {
      await mkdir(join(ctx.conductorRoot, 'etc/128technology'), { recursive: true });
      await writeFileAtomic(
        join(ctx.conductorRoot, 'etc/128technology/global.init'),
        JSON.stringify(
          { init: { routerName: 'drill-conductor', conductor: { 'drill-a': { host: ctx.o.host } } } },
          null,
          2,
        ),
        { mode: 0o644 },
      );
      await writeFileAtomic(
        join(ctx.conductorRoot, 'etc/128technology/local.init'),
        JSON.stringify({ init: { id: 'drill-a' } }, null, 2),
        { mode: 0o644 },
      );
      await writeConductorConfig(ctx.side.o);
      await ctx.side.start128T();
      const fresh = await pemFingerFile(ctx.side.path(`${PKI_DIR}/master.pub`));
      // The rebuilt master holds no minion keys: every minion is held pending (reference/salt.md §4.3),
      // and nothing here accepts them blindly (DESIGN.md trust model, rule 4).
      await waitFor('every minion to be held pending by the rebuilt master', 60_000, async () => {
        const pending = await readdir(ctx.side.path(`${PKI_DIR}/minions_pre`)).catch(() => [] as string[]);
        return ctx.ids.every((id) => pending.includes(id)) ? true : undefined;
      });
      // A conductor-agent with a new identity: every router agent must refuse it (pinned certificate and key).
      // Each router's own refusal is the evidence (a connection count after a sleep proves nothing while
      // router backoff reaches 30 s).
      const logs = ctx.routers.map((r) => join(r.o.root, 'var/log/router-agent.log'));
      const offsets = await Promise.all(
        logs.map((f) =>
          stat(f).then(
            (s) => s.size,
            () => 0,
          ),
        ),
      );
      await ctx.side.startAgent();
      const refused = async (i: number): Promise<boolean> => {
        const text = await readFile(logs[i]!, 'utf8').catch(() => '');
        return text.slice(offsets[i]).includes('"code":"AGENT_TLS_PIN_MISMATCH"');
      };
      const what = 'every router agent to refuse the unpinned conductor-agent (AGENT_TLS_PIN_MISMATCH)';
      await waitFor(
        what,
        90_000,
        async () => ((await Promise.all(ctx.routers.map((_, i) => refused(i)))).every(Boolean) ? true : undefined),
        500,
      );
      const connected = (ctx.side.agents?.fleet() ?? []).filter((e) => e.connected).length;
      await ctx.side.stopAgent();
      await rm(ctx.side.path(STATE_DIR), { recursive: true, force: true });
      if (connected > 0)
        throw new RecoveryError(
          'PROTOCOL_BAD_SIGNATURE',
          `${connected} router agent(s) accepted a conductor-agent they never pinned`,
        );
      await ctx.side.stop128T();
      Object.assign(facts, {
        rebuiltMasterFingerprint: fresh,
        minionsHeldPending: ctx.ids.length,
        unpinnedAgentRefusedBy: ctx.ids.length,
        unpinnedAgentAcceptedBy: connected,
      });
    },
  },
  {
    name: 'restore',
    title: 'Restore the backup: preflight, stop 128T, safe extraction, verify, apply, start 128T, post-verify',
    async run(ctx, facts) {
      await ctx.side.start128T(); // the rebuilt conductor runs 128T until restore stops it
      const report = await restoreConductor({
        archive: ctx.archive!,
        root: ctx.conductorRoot,
        config: conductorConfig(ctx),
        yes: true,
        // The rebuilt conductor has no identity yet: trust the signer fingerprint kept off-box at backup time.
        trustedSigners: new Set(ctx.backupSigner ? [ctx.backupSigner] : []),
        ports: {
          services: [ctx.side.service()],
          logger: ctx.logger,
          saltApiPing: async () => {
            await ctx.side.client?.root();
          },
        },
      });
      await ctx.side.startAgent();
      await waitFor('every router agent to reconnect to the restored conductor-agent', 60_000, () => {
        const fleet = fleetTrust(ctx);
        return ctx.ids.every((id) => fleet.get(id)?.connected) ? true : undefined;
      });
      await waitFor('every minion to come back with the restored master key', 60_000, () => {
        const connected = ctx.side.master.connected();
        return ctx.ids.every((id) => connected.includes(id)) ? true : undefined;
      });
      const fp = await pemFingerFile(ctx.side.path(`${PKI_DIR}/master.pub`));
      Object.assign(facts, {
        applied: report.applied.length,
        verified: report.verified,
        masterFingerprint: fp,
        sameKeyAsBefore: fp === ctx.oldFingerprint,
        timingsMs: report.timings,
      });
    },
  },
  {
    name: 'rekey',
    title: 'Replace the master key the lost disk held; every router agent detects its minion refusing the new key',
    async run(ctx, facts) {
      const pki = ctx.side.path(PKI_DIR);
      const keep = join(
        ctx.side.path(STATE_DIR),
        'replaced-master-keys',
        new Date().toISOString().replace(/[:.]/g, ''),
      );
      await ensureDir(keep, PRIVATE_DIR_MODE);
      await copyFile(join(pki, 'master.pem'), join(keep, 'master.pem'));
      await copyFile(join(pki, 'master.pub'), join(keep, 'master.pub'));
      const pair = await generateSaltKeyPair();
      await ctx.side.service().stop();
      await writeFileAtomic(join(pki, 'master.pem'), pair.privateKey, { mode: 0o600 });
      await writeFileAtomic(join(pki, 'master.pub'), pair.publicKey, { mode: 0o644 });
      await ctx.side.service().start();
      ctx.newFingerprint = await pemFingerFile(join(pki, 'master.pub'));
      ctx.staleMasterPub = join(keep, 'master.pub');
      const stale = await waitFor('every router agent to report a stale master key', 60_000, () => {
        const fleet = fleetTrust(ctx);
        return ctx.ids.every((id) => fleet.get(id)?.trust === 'stale-master-key') ? fleet : undefined;
      });
      for (const id of ctx.ids) ctx.results.set(id, { id, trustAfterRekey: stale.get(id)?.trust });
      Object.assign(facts, {
        oldFingerprint: ctx.oldFingerprint,
        newFingerprint: ctx.newFingerprint,
        oldPairKeptIn: keep,
        staleRouters: ctx.ids.length,
      });
    },
  },
  {
    name: 'reauth',
    title:
      'Re-authenticate every router: a rate-limited wave of signed commands through the agents, key gate, test.ping',
    async run(ctx, facts) {
      const w = await drillWave({
        ids: ctx.ids,
        masterFingerprint: ctx.newFingerprint!,
        masterPubPath: ctx.side.path(`${PKI_DIR}/master.pub`),
        pkiDir: ctx.side.path(PKI_DIR),
        agents: ctx.side.agents,
        fleet: ctx.side.agents?.fleet() ?? [],
        salt: ctx.side.client!,
        rate: ctx.o.rate ?? DEFAULT_DRILL_RATE,
        concurrency: 50,
        clock: systemClock,
        onProgress: ctx.o.onProgress,
      });
      for (const out of w.outcomes) {
        const r = ctx.results.get(out.routerId) ?? { id: out.routerId };
        Object.assign(r, {
          reauthOk: out.state === 'done',
          fingerprint: out.state === 'done' ? ctx.newFingerprint : undefined,
          reauthMs: out.timings?.pinged ?? out.timings?.agentDone,
          channel: out.channel,
        });
        if (out.state !== 'done') r.error = `${out.code ?? out.state}${out.message ? `: ${out.message}` : ''}`;
        ctx.results.set(out.routerId, r);
      }
      const failed = [...ctx.results.values()].filter((r) => !r.reauthOk);
      Object.assign(facts, {
        reauthenticated: ctx.ids.length - failed.length,
        failed: failed.length,
        wallMs: w.wallMs,
        rateLimit: w.rate.limit ? `${w.rate.limit}/s` : 'none',
        achievedRate: w.rate.achieved === null ? '-' : `${w.rate.achieved}/s`,
        confirmedBy: 'test.ping through salt-api',
      });
      if (failed.length)
        throw new RecoveryError(
          failed.length === ctx.ids.length ? 'REAUTH_FAILED' : 'REAUTH_PARTIAL',
          `${failed.length} router(s) did not re-authenticate: ${failed.map((f) => `${f.id} (${f.error})`).join(', ')}`,
        );
    },
  },
  {
    name: 'agentless',
    title: 'Bring back a router without an agent over SSH: SSR tunnel map, pinned host key, the same steps',
    async run(ctx, facts) {
      Object.assign(
        facts,
        await runAgentless({
          dir: ctx.dir,
          host: ctx.o.host,
          masterPort: ctx.side.o.ports.master,
          sshPort: await freePort(ctx.o.host),
          pkiDir: ctx.side.path(PKI_DIR),
          masterFingerprint: ctx.newFingerprint!,
          staleMasterPub: ctx.staleMasterPub!,
          salt: ctx.side.client!,
          onProgress: ctx.o.onProgress,
        }),
      );
    },
  },
  {
    name: 'verify',
    title: 'Verify: conductor ports reachable, routers Running, minions answer test.ping',
    async run(ctx, facts) {
      const config = conductorConfig(ctx);
      const report = await runVerify({
        path: (p) => ctx.side.path(p),
        ports: config.verify.ports,
        hosts: config.verify.hosts,
        ssr: createHttpSsrConductor({ url: config.ssr.url, username: 'admin', password: ctx.side.o.ssrPassword }),
        ping: minionPing(ctx.side.client!, 5),
        minions: ctx.ids,
        routers: ctx.ids,
        timeoutMs: 60_000,
        pollMs: 250,
        clock: systemClock,
      });
      facts.checks = report.checks.map((c) => ({ name: c.name, status: c.status, summary: c.summary }));
      if (!report.ok)
        throw new RecoveryError(
          'VERIFY_FAILED',
          report.checks
            .filter((c) => c.status === 'fail')
            .map((c) => c.summary)
            .join('; '),
        );
    },
  },
];

/** Run the drill; never throws for a failed step (the report says which), only for a broken sandbox. */
export async function runDrill(options: DrillOptions = {}): Promise<DrillReport> {
  const started = Date.now();
  const host = options.host ?? '127.0.0.2';
  const n = options.routers ?? 3;
  const dir = options.sandbox ?? (await mkdtemp(join(tmpdir(), 'ssr-recovery-drill-')));
  await ensureDir(dir, PRIVATE_DIR_MODE);
  const logger = options.logger ?? nullLogger;
  const conductorRoot = join(dir, 'conductor');
  const ports = {
    master: await freePort(host),
    api: await freePort(host),
    ssr: await freePort(host),
    agents: await freePort(host),
  };
  const ids = Array.from({ length: n }, (_, i) => `router-${i + 1}`);
  const side = new ConductorSide({
    root: conductorRoot,
    host,
    ports,
    apiUser: 'ssr-recovery',
    apiSecret: randomSecret(),
    ssrPassword: randomSecret(),
    conductorName: 'drill-conductor',
    routers: ids,
    logger: logger.child({ component: 'drill.conductor' }),
    heartbeatMs: 2000,
  });
  const ctx: Ctx = {
    o: { ...options, routers: n, host },
    logger,
    dir,
    conductorRoot,
    offsite: join(dir, 'offsite'),
    side,
    ids,
    routers: [],
    results: new Map(),
  };
  const routerSide = (id: string): SimRouter =>
    new SimRouter({
      id,
      root: join(dir, 'routers', id),
      conductorHost: host,
      masterPort: ports.master,
      agentPort: ports.agents,
      get agentPublicKey() {
        return side.identity!.signing.publicPem;
      },
      get certFingerprint() {
        return side.identity!.certFingerprint;
      },
      acceptanceWaitTime: 0.5,
    } as ConstructorParameters<typeof SimRouter>[0]);
  ctx.routers = ids.map(routerSide);
  let results: StepResult[] = [];
  try {
    results = await runSteps(ctx, steps, {
      onProgress: (e) => {
        if (!options.onProgress) return;
        if (e.phase === 'start') options.onProgress(`… ${e.title}`);
        else
          options.onProgress(
            `${e.result?.status === 'ok' ? '✓' : '✗'} ${e.step} (${((e.result?.durationMs ?? 0) / 1000).toFixed(1)} s)${e.result?.error ? `: ${e.result.error.message}` : ''}`,
          );
      },
    });
  } finally {
    await Promise.all(ctx.routers.map((r) => r.close().catch(() => undefined)));
    await side.close().catch(() => undefined);
    if (!options.keep) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
  return {
    ok: results.every((s) => s.status === 'ok'),
    sandbox: dir,
    kept: Boolean(options.keep),
    steps: results,
    routers: ids.map((id) => ctx.results.get(id) ?? { id }),
    durationMs: Date.now() - started,
  };
}

function randomSecret(): string {
  return randomBytes(18).toString('base64url');
}
