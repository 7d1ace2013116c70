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
import { isSha256Finger } from '../../shared/salt/fingerprint.js';
import type { ChannelResult, SshChannel } from '../fleet/ports.js';
import { execCommand } from './exec.js';
import { shQuote, StepParser, stepScript } from './script.js';
import { StepWatch } from './step-watch.js';
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
        const c = { ...o, deadline, signal: budget.signal, onMinionKey: ro.onMinionKey };
        return await runSteps(session.client, cmds, fingerprint, c);
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
  onMinionKey?: ((fingerprint: string) => void) | undefined;
}

/**
 * All the steps in one exec channel (script.ts), judged here as their markers arrive (step-watch.ts);
 * the channel is closed as soon as the run is decided. A refused key is removed in a second channel.
 */
async function runSteps(
  client: Client,
  cmds: Record<string, string>,
  fingerprint: string,
  c: StepContext,
): Promise<ChannelResult> {
  const t0 = c.clock.now();
  const pollMs = c.pollMs ?? 200;
  const watch = new StepWatch(fingerprint, c.clock, t0, c.settleMs ?? 2000, c.onMinionKey);
  const parser = new StepParser();
  const script = stepScript(cmds, { pollMs, maxPolls: (c.deadline - t0) / pollMs + 1 });
  const left = (): number => Math.max(1, c.deadline - c.clock.now());
  try {
    await execCommand(client, `sh -c ${shQuote(script)}`, {
      stdin: pinContent(fingerprint),
      timeoutMs: left(),
      signal: c.signal,
      onStdout: (chunk, close) => {
        for (const e of parser.push(chunk)) watch.step(e);
        if (watch.verdict) close();
      },
    });
  } catch (err) {
    if (!(err instanceof RecoveryError)) throw err;
    if (err.code !== 'SSH_TIMEOUT') watch.fail(err.code, err.message);
    else if (watch.phase === 'stopping') watch.fail('SSH_TIMEOUT', 'the minion did not stop');
    else if (watch.phase === 'confirming')
      watch.fail('SSH_TIMEOUT', 'the minion did not authenticate with the pinned key in time');
    else watch.fail('SSH_TIMEOUT', err.message);
  }
  if (watch.refused !== undefined)
    await execCommand(client, cmds.removeRefused!, { timeoutMs: left(), signal: c.signal }).catch(() => undefined);
  return watch.result();
}
