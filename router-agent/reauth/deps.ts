/** What the re-authentication and rollback runs need: ports and settings, injected. */
import type { Clock } from '../../shared/ports/clock.js';
import type { Random } from '../../shared/ports/random.js';
import type { ServiceControl } from '../../shared/ports/service-control.js';
import type { Logger } from '../../shared/log/logger.js';
import type { MinionConfigPaths } from '../minion/config-files.js';
import type { JournalStore, ReauthStep } from './journal.js';
import type { MasterProbe } from './confirm.js';

export interface ReauthDeps {
  config: MinionConfigPaths;
  pkiDir: string;
  logFile: string;
  /** The minion's service (systemd or configured command lines). */
  service: ServiceControl;
  clock: Clock;
  random: Random;
  journal: JournalStore;
  logger: Logger;
  timeoutMs: number;
  settleMs: number;
  pollMs: number;
  /** How long to wait for the minion to exit after `stop` (default 60 s). */
  stopTimeoutMs?: number | undefined;
  /** Positive evidence after the restart (salt-call test.ping in the agent). */
  probe: MasterProbe;
  /** Called after each step is journalled (tests inject crashes here). */
  afterStep?: ((step: ReauthStep) => void | Promise<void>) | undefined;
}

/** Step name → ms since the run started. */
export type ReauthTiming = Record<string, number>;
