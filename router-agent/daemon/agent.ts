/**
 * The router agent, composed: agent key, trust watcher, journalled re-authentication (finishing an
 * interrupted run first), one pinned wss link per conductor node, signed reports, and enrollment
 * over Salt. `startRouterAgent` is what the daemon command, the drill and the tests call.
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { systemClock, type Clock } from '../../shared/ports/clock.js';
import { systemRandom, type Random } from '../../shared/ports/random.js';
import { systemProcessRunner, type ProcessRunner } from '../../shared/ports/process-runner.js';
import { nullLogger, type Logger } from '../../shared/log/logger.js';
import { signEnvelope } from '../../shared/protocol/envelope.js';
import { openReplayStore } from '../wire/replay-store.js';
import { isSha256Finger } from '../../shared/salt/fingerprint.js';
import {
  PROTOCOL_VERSION,
  type AckFrame,
  type CommandBody,
  type CommandFrame,
  type ReportBody,
  type TrustFacts,
} from '../../shared/protocol/messages.js';
import { PRODUCT_VERSION } from '../../shared/version.js';
import type { RouterFacts } from '../facts.js';
import { loadOrCreateAgentKey } from '../agent-key.js';
import { TrustWatcher } from '../trust/watch.js';
import { JournalStore, type ReauthStep } from '../reauth/journal.js';
import type { ReauthDeps } from '../reauth/deps.js';
import type { MasterProbe } from '../reauth/confirm.js';
import type { makeCommandHandler as MakeHandler } from '../wire/handler.js';
import { ConductorLink } from '../ws/client.js';

export interface RouterAgentSettings {
  reauthTimeoutMs: number;
  settleMs: number;
  pollMs: number;
  heartbeatMs: number;
  /** Poll interval while confirming a re-authentication (default min(pollMs, 250)). */
  confirmPollMs?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Re-announce the agent key at most this often (default 10 min). */
  enrollIntervalMs?: number;
  /** How long a re-authentication waits for the minion to exit after `stop` (default 60 s). */
  minionStopTimeoutMs?: number;
}

export interface RouterAgentOptions {
  facts: RouterFacts;
  settings: RouterAgentSettings;
  runner?: ProcessRunner;
  clock?: Clock;
  random?: Random;
  logger?: Logger;
  /** Announce the key over Salt (default true). */
  enroll?: boolean;
  /** Test hook: crash injection after each journalled step. */
  afterStep?: (step: ReauthStep) => void | Promise<void>;
  /** The positive check after a re-authentication (default: `salt-call test.ping` via `facts.saltCall`). */
  probe?: MasterProbe;
}

export interface RouterAgent extends EventEmitter {
  readonly minionId: string;
  readonly agentKeyFingerprint: string;
  readonly agentPublicKey: string;
  /** Current trust facts. */
  trust(): TrustFacts;
  /** URLs of conductor-agent links whose hello was accepted. */
  connected(): string[];
  /** Every link: URL, hello accepted, enrolled per the conductor, last problem (e.g. AGENT_TLS_PIN_MISMATCH). */
  links(): { url: string; ready: boolean; enrolled: boolean | undefined; lastError: string | undefined }[];
  stop(): Promise<void>;
}

/** Start the agent; resolves when it is ready (trust known, links started). */
export async function startRouterAgent(o: RouterAgentOptions): Promise<RouterAgent> {
  const clock = o.clock ?? systemClock;
  const random = o.random ?? systemRandom;
  const logger = (o.logger ?? nullLogger).child({ component: 'router-agent' });
  const runner = o.runner ?? systemProcessRunner;
  const f = o.facts;
  const s = o.settings;
  const emitter = new EventEmitter();
  const key = await loadOrCreateAgentKey(f.stateDir);
  if (key.created) logger.info('created the agent key pair', { fingerprint: key.fingerprint });
  const journal = new JournalStore(f.stateDir);
  await journal.ensure();
  const replay = await openReplayStore({ file: join(f.stateDir, 'replay-cache.json'), clock, logger });
  const deps: ReauthDeps = {
    config: f.config,
    pkiDir: f.pkiDir,
    logFile: f.logFile,
    service: f.service,
    clock,
    random,
    journal,
    logger,
    timeoutMs: s.reauthTimeoutMs,
    settleMs: s.settleMs,
    pollMs: s.confirmPollMs ?? Math.min(s.pollMs, 250),
    afterStep: o.afterStep,
    stopTimeoutMs: s.minionStopTimeoutMs,
    // Loaded on first use (start time): positive evidence that the master answers the pinned minion.
    probe:
      o.probe ?? (async (ms) => (await import('../reauth/minion-control.js')).saltCallPing(runner, f.saltCall)(ms)),
  };
  // The re-authentication code is loaded only when there is something to do (start time).
  if (await journal.read()) {
    const resumed = await (await import('../reauth/run.js')).resumeInterrupted(deps);
    if (resumed) await journal.addPending({ commandId: resumed.journal.commandId, outcome: resumed.outcome });
  }
  const watcher = new TrustWatcher({
    minionId: f.minionId,
    config: f.config,
    pkiDir: f.pkiDir,
    logFile: f.logFile,
    service: f.service,
    clock,
    logger,
    pollMs: s.pollMs,
    sshHostKeyDir: f.sshHostKeyDir,
  });
  await watcher.start();

  const links: ConductorLink[] = [];
  const sendReport = (body: ReportBody, link?: ConductorLink): boolean => {
    const envelope = signEnvelope({
      kind: 'report',
      router: f.minionId,
      body,
      privateKey: key.privateKey,
      clock,
      random,
      ttlMs: 600_000,
    });
    const frame = { v: PROTOCOL_VERSION, type: 'report' as const, envelope };
    emitter.emit('report', body); // every report, sent or not (metrics count outcomes)
    if (link?.ready && link.send(frame)) return true;
    let sent = false;
    for (const l of links) if (l.ready) sent = l.send(frame) || sent;
    return sent;
  };
  const flushPending = async (link?: ConductorLink): Promise<void> => {
    for (const p of await journal.pending()) {
      sendReport({ kind: p.outcome.action, commandId: p.commandId, outcome: p.outcome }, link);
    }
  };

  let lastEnroll = -Infinity;
  const maybeEnroll = async (why: string): Promise<void> => {
    if (o.enroll === false || watcher.facts().state !== 'trusted') return;
    if (clock.now() - lastEnroll < (s.enrollIntervalMs ?? 600_000)) return;
    lastEnroll = clock.now();
    const { announceKey } = await import('../enroll.js');
    const r = await announceKey({
      runner,
      saltCall: f.saltCall,
      minionId: f.minionId,
      pkiDir: f.pkiDir,
      agentPublicKey: key.publicPem,
      agentVersion: PRODUCT_VERSION,
      clock,
      random,
    });
    logger[r.ok ? 'info' : 'warn']('announced the agent key over Salt', { why, ok: r.ok, detail: r.detail });
    emitter.emit('enroll', r);
  };

  const run = async (body: CommandBody, link: ConductorLink | undefined): Promise<void> => {
    if (body.name === 'status') {
      if (body.fingerprint && isSha256Finger(body.fingerprint)) watcher.setExpected(body.fingerprint);
      sendReport({ kind: 'trust', trust: await watcher.refresh(), commandId: body.id }, link);
      return;
    }
    const origin = link ? 'conductor' : 'local';
    const outcome =
      body.name === 'reauth'
        ? await (await import('../reauth/run.js')).reauthenticate(
            { ...deps, timeoutMs: body.timeoutMs ?? s.reauthTimeoutMs },
            { fingerprint: body.fingerprint, commandId: body.id, origin },
          )
        : await (await import('../reauth/rollback.js')).rollback(deps, body.id, origin);
    // The signed command named the master key the conductor holds now: that is the expected key
    // from here on (it used to travel only in the status sent at connect, so a re-authenticated
    // router kept reporting stale-master-key).
    const confirmedKey = body.name === 'reauth' && outcome.ok ? body.fingerprint : undefined;
    if (origin === 'conductor' && confirmedKey && isSha256Finger(confirmedKey)) {
      watcher.setExpected(confirmedKey);
    }
    outcome.trust = (await watcher.refresh()).state;
    await journal.addPending({ commandId: body.id, outcome });
    sendReport({ kind: outcome.action, commandId: body.id, outcome }, link);
    if (outcome.ok && outcome.action === 'reauth') void maybeEnroll('re-authenticated');
  };

  watcher.on('change', (trust: TrustFacts) => {
    logger.info('trust state changed', { state: trust.state });
    sendReport({ kind: 'trust', trust });
    if (trust.state === 'trusted') void maybeEnroll('trusted');
  });

  if (f.pinProblem) logger.error(`agent channel disabled: ${f.pinProblem}`);
  else {
    for (const url of f.conductorUrls) {
      const link = new ConductorLink({
        url,
        certFingerprints: f.certFingerprints,
        routerId: f.minionId,
        agentKey: key,
        agentVersion: PRODUCT_VERSION,
        clock,
        random,
        logger: logger.child({ conductor: url }),
        heartbeatMs: s.heartbeatMs,
        backoffMinMs: s.backoffMinMs,
        backoffMaxMs: s.backoffMaxMs,
      });
      link.on('ready', ({ enrolled }: { enrolled: boolean }) => {
        logger.info('connected to the conductor-agent', { url, enrolled });
        sendReport({ kind: 'trust', trust: watcher.facts() }, link);
        void flushPending(link);
        if (!enrolled) void maybeEnroll('conductor has no enrolled key');
        emitter.emit('connected', url);
      });
      link.on('ack', (ack: AckFrame) => {
        if (ack.ok && ack.id.startsWith('report:')) void journal.removePending([ack.id.slice('report:'.length)]);
      });
      let handle: ReturnType<typeof MakeHandler> | undefined;
      link.on('command', (frame: CommandFrame) => {
        const reply = (a: AckFrame): void => {
          link.send(a);
        };
        void (async () => {
          handle ??= (await import('../wire/handler.js')).makeCommandHandler({
            routerId: f.minionId,
            conductorKeys: f.conductorKeys,
            replay,
            clock,
            logger,
            run: (body) => run(body, link),
          });
          await handle(frame, reply);
        })().catch((err: unknown) => logger.error('command failed unexpectedly', { err }));
      });
      links.push(link);
      link.start();
    }
  }
  // After the caller has seen us ready: salt-call is a process spawn.
  setImmediate(() => void maybeEnroll('start'));
  logger.info('router agent ready', {
    minionId: f.minionId,
    trust: watcher.facts().state,
    conductors: f.conductorUrls,
  });

  return Object.assign(emitter, {
    minionId: f.minionId,
    agentKeyFingerprint: key.fingerprint,
    agentPublicKey: key.publicPem,
    trust: () => watcher.facts(),
    connected: () => links.filter((l) => l.ready).map((l) => l.url),
    links: () => links.map((l) => ({ url: l.url, ready: l.ready, enrolled: l.enrolled, lastError: l.lastError })),
    async stop() {
      watcher.stop();
      await Promise.all(links.map((l) => l.stop()));
    },
  });
}
