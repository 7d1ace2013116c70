/**
 * Everything a restore does to the world outside its own files, passed in (STYLE.md lesson 7):
 * service control, salt-api, confirmation, file operations, clock, free space, flushing, and test
 * hooks. `defaultPorts` fills in the real implementations.
 */
import { nullLogger, type Logger } from '../../shared/log/logger.js';
import { systemClock, type Clock } from '../../shared/ports/clock.js';
import { systemRandom, type Random } from '../../shared/ports/random.js';
import { systemProcessRunner } from '../../shared/ports/process-runner.js';
import type { ServiceControl } from '../../shared/ports/service-control.js';
import { systemApplyFs, type ApplyFs } from './apply-fs.js';
import type { Phase } from './journal.js';
import { loadOwnerIds, type OwnerIds } from './owner-ids.js';
import { statfsFreeBytes } from './preflight.js';

export interface RestorePorts {
  /** Services in stop order (128T first, then salt-master when `restore.stopSaltMaster`); started in reverse. */
  services: ServiceControl[];
  /** Resolves when salt-api answers; undefined = the check is reported as skipped. */
  saltApiPing?: (() => Promise<void>) | undefined;
  /** Asks the operator; undefined = non-interactive (unverified archives then need `yes`). */
  confirm?: ((question: string) => Promise<boolean>) | undefined;
  fs?: ApplyFs;
  clock?: Clock;
  /** Run ids. */
  random?: Random;
  owners?: OwnerIds;
  logger?: Logger;
  freeBytes?: (path: string) => Promise<number>;
  /** Make written data durable (default: `sync -f <path>`, one syncfs for the whole file system). */
  flush?: (path: string) => Promise<void>;
  /** Test and progress hooks: after each journal phase is recorded, and after each file is applied. */
  hooks?: {
    afterPhase?: (phase: Phase | 'post-verify') => Promise<void> | void;
    onApplied?: (path: string, index: number) => Promise<void> | void;
  };
}

export type ResolvedPorts = Required<Omit<RestorePorts, 'saltApiPing' | 'confirm' | 'hooks'>> &
  Pick<RestorePorts, 'saltApiPing' | 'confirm' | 'hooks'>;

/** `sync -f <path>`: flush the file system holding `path`; a failure only costs durability, so it is ignored. */
export async function syncFileSystem(path: string): Promise<void> {
  await systemProcessRunner.run(['sync', '-f', path], { timeoutMs: 120_000 }).catch(() => undefined);
}

export function resolvePorts(p: RestorePorts): ResolvedPorts {
  return {
    services: p.services,
    saltApiPing: p.saltApiPing,
    confirm: p.confirm,
    hooks: p.hooks,
    fs: p.fs ?? systemApplyFs,
    clock: p.clock ?? systemClock,
    random: p.random ?? systemRandom,
    owners: p.owners ?? loadOwnerIds(),
    logger: p.logger ?? nullLogger,
    freeBytes: p.freeBytes ?? statfsFreeBytes,
    flush: p.flush ?? syncFileSystem,
  };
}
