/**
 * The router agent's re-authentication steps, run over one pinned SSH session for routers without
 * an agent: read the minion key (for the key gate), stop the minion and wait until it is down, pin
 * `master_finger` in a drop-in, move the stale `minion_master.pub` aside, start, confirm (the cached
 * key is the pinned one and the minion stays up), and remove a refused key the minion cached.
 * Every command comes from a fixed template below; the only values in it are validated paths, a
 * unit name and the fingerprint (never a string from a router, an inventory field unchecked, or a
 * user), each single-quoted. Content goes in on stdin, never on the command line.
 */
import { readFile } from 'node:fs/promises';
import type { Client } from 'ssh2';
import { RecoveryError, SshError } from '../../shared/errors.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { Logger } from '../../shared/log/logger.js';
import { isSha256Finger, pemFinger } from '../../shared/salt/fingerprint.js';
import type { ChannelResult, SshChannel } from '../fleet/ports.js';
import { execCommand, type ExecResult } from './exec.js';
import { defaultEntry, inventoryEntry, type InventoryEntry } from './inventory.js';
import { openSession } from './session.js';

/** The router agent's drop-in name (router-agent/minion/config-files.ts PIN_DROP_IN). */
export const PIN_DROP_IN = 'ssr-recovery-master-finger.conf';

export interface RouterLayout {
  configDir: string;
  pkiDir: string;
  serviceCommand: string;
  unit: string;
  sudo: boolean;
}

const q = (v: string): string => `'${v}'`;

/** The fixed templates, filled with validated values. Throws REAUTH_REFUSED for anything else. */
export function stepCommands(l: RouterLayout, fingerprint: string): Record<string, string> {
  const v = inventoryEntry
    .pick({ configDir: true, pkiDir: true, serviceCommand: true, unit: true })
    .safeParse({ configDir: l.configDir, pkiDir: l.pkiDir, serviceCommand: l.serviceCommand, unit: l.unit });
  if (!v.success || !isSha256Finger(fingerprint) || fingerprint !== fingerprint.toLowerCase()) {
    throw new RecoveryError('REAUTH_REFUSED', 'refusing to build SSH steps from an invalid path, unit or fingerprint', {
      details: { fingerprint },
    });
  }
  const s = l.sudo ? 'sudo -n -- ' : '';
  const svc = (verb: string): string => `${s}${q(l.serviceCommand)} ${verb} ${q(l.unit)}`;
  const dropIn = `${l.configDir}/minion.d/${PIN_DROP_IN}`;
  const cached = `${l.pkiDir}/minion_master.pub`;
  return {
    readMinionKey: `${s}cat -- ${q(`${l.pkiDir}/minion.pub`)}`,
    stop: svc('stop'),
    isActive: svc('is-active --quiet'),
    makeDropInDir: `${s}mkdir -p -- ${q(`${l.configDir}/minion.d`)}`,
    writePin: `${s}tee -- ${q(`${dropIn}.tmp`)}`,
    placePin: `${s}mv -f -- ${q(`${dropIn}.tmp`)} ${q(dropIn)}`,
    hasCached: `${s}test -e ${q(cached)}`,
    moveStale: `${s}mv -f -- ${q(cached)} ${q(`${cached}.ssr-recovery-stale`)}`,
    start: svc('start'),
    readCached: `${s}cat -- ${q(cached)}`,
    removeRefused: `${s}rm -f -- ${q(cached)}`,
  };
}

/** The pin drop-in's content (stdin of `writePin`). */
export const pinContent = (fingerprint: string): string =>
  `# written by ssr-recovery: accept only this master key\nmaster_finger: '${fingerprint}'\n`;

export interface SshChannelOptions {
  inventory: readonly InventoryEntry[];
  defaults: { user: string; keyFile?: string | undefined; passwordFile?: string | undefined; sudo: boolean };
  clock: Clock;
  logger: Logger;
  /** The minion must stay up with the pinned key cached this long (default 2 s). */
  settleMs?: number;
  pollMs?: number;
  /** Resolve a configured path under --root (key and password files live on the conductor). */
  path?: (p: string) => string;
}

/** The SSH fallback as the wave's {@link SshChannel}. */
export function sshReauthChannel(o: SshChannelOptions): SshChannel {
  const log = o.logger.child({ component: 'ssh-fallback' });
  return {
    async reauth(routerId, route, fingerprint, ro) {
      const entry =
        route.inventoryIndex !== undefined ? o.inventory[route.inventoryIndex]! : defaultEntry(routerId, o.defaults);
      const cmds = stepCommands(
        {
          configDir: entry.configDir,
          pkiDir: entry.pkiDir,
          serviceCommand: entry.serviceCommand,
          unit: entry.unit,
          sudo: entry.sudo ?? o.defaults.sudo,
        },
        fingerprint,
      );
      const deadline = o.clock.now() + ro.timeoutMs;
      const budget = new AbortController();
      const timer = setTimeout(() => budget.abort(), ro.timeoutMs);
      const session = await openSession(
        {
          host: route.host,
          port: route.port,
          username: route.username,
          ...(await credentials(entry, o)),
          hostKeyFingerprint: route.hostKeys,
          readyTimeoutMs: Math.min(20_000, ro.timeoutMs),
          acceptNewHostKey:
            route.hostKeySource === 'accept-new'
              ? (fp) =>
                  log.warn('ACCEPTING AN UNPINNED SSH HOST KEY (--accept-new-host-keys)', {
                    router: routerId,
                    host: route.host,
                    port: route.port,
                    fingerprint: fp,
                  })
              : undefined,
        },
        { logger: log },
      ).catch((err: unknown) => {
        clearTimeout(timer);
        throw err;
      });
      try {
        return await runSteps(session.client, cmds, fingerprint, { ...o, deadline, signal: budget.signal });
      } catch (err) {
        if (err instanceof RecoveryError)
          return {
            ok: false,
            code: err.code,
            message: `${routerId} over SSH ${route.host}:${route.port}: ${err.message}`,
          };
        throw err;
      } finally {
        clearTimeout(timer);
        session.close();
      }
    },
  };
}

async function credentials(
  e: InventoryEntry,
  o: SshChannelOptions,
): Promise<{ privateKey?: string; password?: string }> {
  const at = o.path ?? ((p: string) => p);
  const keyFile = e.keyFile ?? o.defaults.keyFile;
  const passwordFile = e.passwordFile ?? o.defaults.passwordFile;
  if (!keyFile && !passwordFile)
    throw new SshError('SSH_FAILED', `no SSH key or password file for ${e.minion}`, {
      hint: 'Set reauth.sshKeyFile / reauth.sshPasswordFile or keyFile/passwordFile in the inventory.',
    });
  const read = async (p: string): Promise<string> =>
    readFile(at(p), 'utf8').catch((err: unknown) => {
      throw new SshError(
        'SSH_FAILED',
        `cannot read ${at(p)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    });
  return {
    ...(keyFile ? { privateKey: await read(keyFile) } : {}),
    ...(passwordFile ? { password: (await read(passwordFile)).replace(/\r?\n$/, '') } : {}),
  };
}

interface StepContext extends SshChannelOptions {
  deadline: number;
  signal: AbortSignal;
}

async function runSteps(
  client: Client,
  cmds: Record<string, string>,
  fingerprint: string,
  c: StepContext,
): Promise<ChannelResult> {
  const t0 = c.clock.now();
  const timings: Record<string, number> = {};
  const evidence: string[] = [];
  const run = async (name: string, stdin?: string): Promise<ExecResult> => {
    const r = await execCommand(client, cmds[name]!, {
      timeoutMs: Math.max(1, c.deadline - c.clock.now()),
      signal: c.signal,
      ...(stdin !== undefined ? { stdin } : {}),
    });
    if (r.code !== 0 && name !== 'isActive' && name !== 'hasCached' && name !== 'readCached') {
      evidence.push(`${name}: exit ${r.code ?? r.signal}`, ...tail(r.stderr || r.stdout));
    }
    return r;
  };
  const must = async (name: string, stdin?: string): Promise<void> => {
    const r = await run(name, stdin);
    if (r.code !== 0)
      throw new SshError(
        'SSH_COMMAND_FAILED',
        `step ${name} exited ${r.code ?? r.signal}: ${tail(r.stderr || r.stdout).join(' / ')}`,
        { details: { step: name, evidence } },
      );
    timings[name] = c.clock.now() - t0;
  };
  const key = await run('readMinionKey');
  let minionKeyFingerprint: string | undefined;
  try {
    if (key.code === 0) minionKeyFingerprint = pemFinger(key.stdout);
  } catch {
    /* not a key: the gate has nothing to compare against */
  }
  try {
    await must('stop');
    await waitInactive(run, c);
    timings.stopped = c.clock.now() - t0;
    await must('makeDropInDir');
    await must('writePin', pinContent(fingerprint));
    await must('placePin');
    if ((await run('hasCached')).code === 0) await must('moveStale');
    await must('start');
    const confirmed = await confirm(run, fingerprint, c);
    timings.confirmed = c.clock.now() - t0;
    if (!confirmed.ok)
      return { ok: false, code: 'REAUTH_FAILED', message: confirmed.message, evidence, timings, minionKeyFingerprint };
    return { ok: true, timings, minionKeyFingerprint, evidence };
  } catch (err) {
    const e = err as RecoveryError;
    return { ok: false, code: e.code ?? 'SSH_FAILED', message: e.message, evidence, timings, minionKeyFingerprint };
  }
}

function tail(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(Boolean)
    .slice(-6)
    .map((l) => (l.length > 300 ? `${l.slice(0, 300)}…` : l));
}

async function waitInactive(run: (n: string) => Promise<ExecResult>, c: StepContext): Promise<void> {
  while ((await run('isActive')).code === 0) {
    if (c.clock.now() >= c.deadline) throw new SshError('SSH_TIMEOUT', 'the minion did not stop');
    await c.clock.sleep(c.pollMs ?? 200);
  }
}

/** Cached key = the pin and the minion up for settleMs; a refused key is removed. */
async function confirm(
  run: (n: string) => Promise<ExecResult>,
  fingerprint: string,
  c: StepContext,
): Promise<{ ok: boolean; message: string }> {
  let okSince: number | undefined;
  let down = 0;
  for (;;) {
    const active = (await run('isActive')).code === 0;
    const cached = await run('readCached');
    let fp: string | undefined;
    try {
      if (cached.code === 0 && cached.stdout.trim()) fp = pemFinger(cached.stdout);
    } catch {
      fp = 'unreadable';
    }
    if (fp !== undefined && fp !== fingerprint) {
      await run('removeRefused');
      return { ok: false, message: `the minion cached another master key (${fp}); it was removed, the pin refused it` };
    }
    down = active ? 0 : down + 1;
    if (down >= 2) return { ok: false, message: 'the minion exited after the pinned start' };
    const now = c.clock.now();
    if (active && fp === fingerprint) {
      okSince ??= now;
      if (now - okSince >= (c.settleMs ?? 2000)) return { ok: true, message: 'authenticated' };
    } else okSince = undefined;
    if (now >= c.deadline)
      throw new SshError('SSH_TIMEOUT', 'the minion did not authenticate with the pinned key in time');
    await c.clock.sleep(c.pollMs ?? 200);
  }
}
