/**
 * Where the daemon's read-only views come from: the live fleet (what `fleet --json` prints), the
 * backup folder (what `backup list --json` prints) and the waves in progress. The status page and
 * the metrics read only these, so neither can show or change anything the CLI could not.
 */
import type { FleetEntry } from '../ws/fleet-view.js';
import type { BackupListing } from '../backup/list.js';

/** One re-authentication or migration wave: counts by router state, from its journal. */
export interface WaveSummary {
  kind: 'reauth' | 'migrate';
  id: string;
  startedAt: string;
  /** `running` while routers are still being worked on. */
  status: 'running' | 'done' | 'interrupted';
  total: number;
  counts: Record<string, number>;
}

/** The newest restore-test on record (`<stateDir>/restore-tests.json`, written by the CLI and the daemon). */
export interface RestoreTestSummary {
  archive: string;
  ok: boolean;
  at: string;
}

export interface ObserveSources {
  fleet(): Promise<FleetEntry[]>;
  backups(): Promise<BackupListing[]>;
  waves(): Promise<WaveSummary[]>;
  /** Read at scrape time, so a `backup verify --restore-test` run from the CLI shows too. */
  lastRestoreTest?(): Promise<RestoreTestSummary | undefined>;
}

export interface DaemonSourcesOptions {
  /** The live fleet (the agent service's server), undefined while the agent channel is off. */
  fleet: () => FleetEntry[] | undefined;
  /** The backup folder (already under `--root`). */
  backupDir: string;
  /** The conductor-agent state folder (restore-test results), already under `--root`. */
  stateDir?: string | undefined;
  /** Waves in progress or last run (journals on disk); none by default. */
  waves?: () => Promise<WaveSummary[]>;
}

/** The daemon's sources: live fleet, the backup folder listed with sidecar checks remembered per file. */
export function daemonSources(o: DaemonSourcesOptions): ObserveSources {
  const memo = new Map<string, BackupListing['sidecar']>();
  return {
    fleet: async () => o.fleet() ?? [],
    backups: async () => {
      const { listBackups } = await import('../backup/list.js');
      if (memo.size > 1000) memo.clear();
      const { readRestoreTests } = await import('../backup/restore-test.js');
      const restoreTests = o.stateDir ? await readRestoreTests(o.stateDir) : {};
      return listBackups(o.backupDir, { check: 'sidecar', sidecarMemo: memo, restoreTests });
    },
    waves: o.waves ?? (async () => []),
    lastRestoreTest: async () => {
      if (!o.stateDir) return undefined;
      const { readRestoreTests } = await import('../backup/restore-test.js');
      return newestRestoreTest(Object.values(await readRestoreTests(o.stateDir)));
    },
  };
}

/** The newest well-formed result (a hand-edited or foreign entry is skipped, never trusted blindly). */
export function newestRestoreTest(results: readonly unknown[]): RestoreTestSummary | undefined {
  let best: RestoreTestSummary | undefined;
  for (const r of results) {
    const x = r as Partial<RestoreTestSummary> | null;
    if (!x || typeof x.ok !== 'boolean' || typeof x.at !== 'string' || Number.isNaN(Date.parse(x.at))) continue;
    if (!best || Date.parse(x.at) > Date.parse(best.at))
      best = { archive: String(x.archive ?? ''), ok: x.ok, at: x.at };
  }
  return best;
}
