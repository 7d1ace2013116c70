/**
 * The conductor-agent's Prometheus metrics (prom-client). Names follow Prometheus conventions:
 * `ssr_recovery_` prefix, base units in the name (`_seconds`, `_bytes`), counters end in `_total`.
 * Gauges about the fleet and waves are computed at scrape time from the daemon's live sources, so a
 * scrape always shows what `fleet --json` shows at that moment; events (backups, re-auths, salt-api
 * errors) arrive through the {@link ObserveSink} the daemon installs.
 */
import client from 'prom-client';
import { TRUST_STATES } from '../../shared/protocol/messages.js';
import type { ObserveSink } from '../../shared/observe/sink.js';
import type { ObserveSources } from './sources.js';
import type { BackupListing } from '../backup/list.js';

export interface ConductorMetrics {
  registry: client.Registry;
  sink: ObserveSink;
  /** Prometheus text exposition. */
  render(): Promise<string>;
  contentType: string;
}

const PREFIX = 'ssr_recovery_';

export function createConductorMetrics(sources: ObserveSources): ConductorMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: `${PREFIX}conductor_agent_` });
  // prom-client names three gauges `…_total`, which Prometheus reserves for counters (promtool flags them).
  for (const m of ['active_handles_total', 'active_requests_total', 'active_resources_total']) {
    registry.removeSingleMetric(`${PREFIX}conductor_agent_nodejs_${m}`);
  }
  const reg = { registers: [registry] };

  // The backup gauges come from the folder itself (a restarted daemon still knows the newest backup);
  // prom-client collects every metric at once, so one folder read is shared by the scrape.
  let folder: { at: number; list: Promise<BackupListing[] | undefined> } | undefined;
  const readFolder = (): Promise<BackupListing[] | undefined> => {
    if (!folder || Date.now() - folder.at > 1000)
      folder = { at: Date.now(), list: sources.backups().catch(() => undefined) };
    return folder.list;
  };
  const newestBackup = async (): Promise<BackupListing | undefined> =>
    (await readFolder())?.find((b) => b.kind === 'ours' && b.sidecar !== 'mismatch');
  new client.Gauge({
    name: `${PREFIX}backups`,
    help: 'Backup archives in the backup folder.',
    ...reg,
    async collect() {
      const list = await readFolder();
      if (list) this.set(list.length);
    },
  });
  const backupLast = new client.Gauge({
    name: `${PREFIX}backup_last_success_timestamp_seconds`,
    help: 'Unix time of the newest successful backup in the backup folder (0 = none).',
    ...reg,
    async collect() {
      const newest = await newestBackup();
      if (newest) this.set(Date.parse(newest.createdAt) / 1000);
    },
  });
  const backupDuration = new client.Gauge({
    name: `${PREFIX}backup_last_duration_seconds`,
    help: 'Wall time of the last backup run in this daemon.',
    ...reg,
  });
  const backupSize = new client.Gauge({
    name: `${PREFIX}backup_last_size_bytes`,
    help: 'Size of the newest backup archive in the backup folder.',
    ...reg,
    async collect() {
      const newest = await newestBackup();
      if (newest) this.set(newest.size);
    },
  });
  const backupRuns = new client.Counter({
    name: `${PREFIX}backup_runs_total`,
    help: 'Backup runs in this daemon, by outcome.',
    labelNames: ['outcome'] as const,
    ...reg,
  });
  // The newest restore-test: this daemon's own (sink) or one on record in restore-tests.json (a CLI run).
  let lastTest: { ok: boolean; at: number } | undefined;
  const readLastTest = async (): Promise<{ ok: boolean; at: number } | undefined> => {
    const onFile = await sources.lastRestoreTest?.().catch(() => undefined);
    const fileAt = onFile ? Date.parse(onFile.at) : Number.NaN;
    if (onFile && (!lastTest || fileAt >= lastTest.at)) lastTest = { ok: onFile.ok, at: fileAt };
    return lastTest;
  };
  absentUntil(
    () => lastTest !== undefined,
    new client.Gauge({
      name: `${PREFIX}restore_test_last_success`,
      help: '1 when the last restore-test of a backup passed, 0 when it failed (absent until one ran).',
      ...reg,
      async collect() {
        const t = await readLastTest();
        if (t) this.set(t.ok ? 1 : 0);
      },
    }),
  );
  absentUntil(
    () => lastTest !== undefined,
    new client.Gauge({
      name: `${PREFIX}restore_test_last_timestamp_seconds`,
      help: 'Unix time of the last restore-test.',
      ...reg,
      async collect() {
        const t = await readLastTest();
        if (t) this.set(t.at / 1000);
      },
    }),
  );
  const reauth = new client.Counter({
    name: `${PREFIX}reauth_total`,
    help: 'Router re-authentications ended in this daemon, by outcome and channel.',
    labelNames: ['outcome', 'channel'] as const,
    ...reg,
  });
  const saltApiErrors = new client.Counter({
    name: `${PREFIX}saltapi_errors_total`,
    help: 'salt-api errors seen by this daemon, by stable error code.',
    labelNames: ['code'] as const,
    ...reg,
  });
  const eventsReconnects = new client.Counter({
    name: `${PREFIX}events_stream_reconnects_total`,
    help: 'Times the salt-api /events stream was re-opened.',
    ...reg,
  });
  registerFleetGauges(registry, sources);

  const sink: ObserveSink = {
    backupFinished(r) {
      backupRuns.inc({ outcome: r.ok ? 'ok' : 'failed' });
      backupDuration.set(r.durationSeconds);
      if (r.ok) {
        backupLast.set(r.at / 1000);
        if (r.sizeBytes !== undefined) backupSize.set(r.sizeBytes);
      }
    },
    restoreTestFinished(r) {
      if (!lastTest || r.at >= lastTest.at) lastTest = { ok: r.ok, at: r.at };
    },
    reauthFinished(r) {
      reauth.inc({ outcome: r.outcome, channel: r.channel });
    },
    saltApiError(code) {
      saltApiErrors.inc({ code });
    },
    eventsReconnected() {
      eventsReconnects.inc();
    },
  };
  return { registry, sink, contentType: registry.contentType, render: () => registry.metrics() };
}

/**
 * An unlabelled prom-client gauge always exposes a value (0 before any set); this one exposes none
 * until `present()`, so "no restore-test yet" never reads as "the restore-test failed" (the alert is `== 0`).
 */
function absentUntil(present: () => boolean, gauge: client.Gauge): void {
  const get = gauge.get.bind(gauge);
  gauge.get = async () => {
    const m = await get();
    return present() ? m : { ...m, values: [] };
  };
}

function registerFleetGauges(registry: client.Registry, sources: ObserveSources): void {
  const reg = { registers: [registry] };
  new client.Gauge({
    name: `${PREFIX}fleet_routers`,
    help: 'Routers in the fleet view by reported trust state (`unknown`: no report yet).',
    labelNames: ['trust'] as const,
    ...reg,
    async collect() {
      const fleet = await sources.fleet();
      const counts = new Map<string, number>([...TRUST_STATES, 'unknown'].map((s) => [s, 0]));
      for (const r of fleet) counts.set(r.trust ?? 'unknown', (counts.get(r.trust ?? 'unknown') ?? 0) + 1);
      for (const [trust, n] of counts) this.set({ trust }, n);
    },
  });
  new client.Gauge({
    name: `${PREFIX}fleet_routers_enrolled`,
    help: 'Routers with an enrolled agent key.',
    ...reg,
    async collect() {
      this.set((await sources.fleet()).filter((r) => r.enrolled).length);
    },
  });
  new client.Gauge({
    name: `${PREFIX}agent_connections`,
    help: 'Router agents connected to this daemon now (hello accepted).',
    ...reg,
    async collect() {
      this.set((await sources.fleet()).filter((r) => r.connected).length);
    },
  });
  new client.Gauge({
    name: `${PREFIX}wave_routers`,
    help: 'Routers of the current (or last) re-authentication or migration wave, by state.',
    labelNames: ['wave', 'state'] as const,
    ...reg,
    async collect() {
      this.reset();
      for (const w of await sources.waves()) {
        for (const [state, n] of Object.entries(w.counts)) this.set({ wave: w.kind, state }, n);
      }
    },
  });
}
