/** Everything a migration run talks to, injected (real ports from from-config.ts, simulators in tests). */
import type { Logger } from '../../shared/log/logger.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { SaltHashType } from '../../shared/salt/fingerprint.js';
import type { SsrConductor } from '../ssr/conductor.js';
import type { MinionPing } from '../verify/checks.js';
import type { NewConductorFiles } from './files.js';
import type { FaultPoint } from './journal.js';
import type { RouterRepin } from './trust.js';
import type { MigrateArgs, RouterResult } from './types.js';

/** A fresh, verified backup of the old conductor (backup/ code behind it). */
export interface BackupGate {
  /** The newest verified backup younger than the limit, if any. */
  find(): Promise<{ archive: string; ageHours: number } | undefined>;
  /** Take one now and verify it. */
  take(): Promise<{ archive: string }>;
}

export interface MigrateSettings {
  concurrency: number;
  connectedTimeoutMs: number;
  runningTimeoutMs: number;
  pollMs: number;
  /** How long a Running router's minions may take to answer test.ping through the new salt-api. */
  pingTimeoutMs: number;
  trust: 'auto' | 'same-key' | 'repin';
  /** Conductor ports routers need (verify.ports). */
  ports: number[];
}

export interface MigratePaths {
  /** Local (old conductor) paths, root prefix applied. */
  oldPkiDir: string;
  oldExportsDir: string;
  journalDir: string;
  /** System paths on the new conductor (through `files`). */
  newPkiDir: string;
  newExportsDir: string;
}

export interface MigrateDeps {
  args: MigrateArgs;
  oldSsr: SsrConductor;
  newSsr: SsrConductor;
  files: NewConductorFiles;
  backup: BackupGate;
  repin: RouterRepin;
  ping?: MinionPing | undefined;
  probe?: ((host: string, port: number) => Promise<boolean>) | undefined;
  paths: MigratePaths;
  hashType: SaltHashType;
  settings: MigrateSettings;
  clock: Clock;
  logger: Logger;
  fault?: FaultPoint | undefined;
  /** One line per router as it finishes (progress on stderr). */
  onRouter?: ((r: RouterResult, done: number, total: number) => void) | undefined;
  onStep?: ((step: string) => void) | undefined;
}
