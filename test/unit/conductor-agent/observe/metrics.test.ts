import { strict as assert } from 'node:assert';
import { createConductorMetrics } from '../../../../conductor-agent/observe/metrics.js';
import { newestRestoreTest, type ObserveSources } from '../../../../conductor-agent/observe/sources.js';

function sources(over: Partial<ObserveSources> = {}): ObserveSources {
  return {
    fleet: async () => [
      { routerId: 'r1', connected: true, enrolled: true, trust: 'trusted' },
      { routerId: 'r2', connected: false, enrolled: true, trust: 'stale-master-key' },
      { routerId: 'r3', connected: true, enrolled: false },
    ],
    backups: async () => [],
    waves: async () => [
      { kind: 'reauth', id: 'w', startedAt: 't', status: 'running', total: 3, counts: { done: 2, failed: 1 } },
    ],
    ...over,
  };
}

/** `name{labels} value` → value, from the exposition text. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('conductor metrics', () => {
  it('fleet gauges are computed at scrape time from the fleet view', async () => {
    const text = await createConductorMetrics(sources()).render();
    assert.equal(sample(text, 'ssr_recovery_fleet_routers{trust="trusted"}'), 1);
    assert.equal(sample(text, 'ssr_recovery_fleet_routers{trust="stale-master-key"}'), 1);
    assert.equal(sample(text, 'ssr_recovery_fleet_routers{trust="unknown"}'), 1);
    assert.equal(sample(text, 'ssr_recovery_fleet_routers{trust="finger-mismatch"}'), 0);
    assert.equal(sample(text, 'ssr_recovery_fleet_routers_enrolled'), 2);
    assert.equal(sample(text, 'ssr_recovery_agent_connections'), 2);
    assert.equal(sample(text, 'ssr_recovery_wave_routers{wave="reauth",state="done"}'), 2);
  });

  it('events from the sink become counters and gauges', async () => {
    const m = createConductorMetrics(sources());
    m.sink.backupFinished({ ok: true, durationSeconds: 2.5, sizeBytes: 4096, at: 1_700_000_000_000 });
    m.sink.backupFinished({ ok: false, durationSeconds: 1, at: 1_700_000_100_000 });
    m.sink.reauthFinished({ outcome: 'ok', channel: 'agent' });
    m.sink.saltApiError('SALTAPI_UNAVAILABLE');
    m.sink.eventsReconnected();
    m.sink.restoreTestFinished({ ok: false, archive: 'a', at: 1_700_000_000_000 });
    const text = await m.render();
    assert.equal(sample(text, 'ssr_recovery_backup_runs_total{outcome="ok"}'), 1);
    assert.equal(sample(text, 'ssr_recovery_backup_runs_total{outcome="failed"}'), 1);
    assert.equal(sample(text, 'ssr_recovery_backup_last_success_timestamp_seconds'), 1_700_000_000);
    assert.equal(sample(text, 'ssr_recovery_backup_last_size_bytes'), 4096);
    assert.equal(sample(text, 'ssr_recovery_backup_last_duration_seconds'), 1);
    assert.equal(sample(text, 'ssr_recovery_reauth_total{outcome="ok",channel="agent"}'), 1);
    assert.equal(sample(text, 'ssr_recovery_saltapi_errors_total{code="SALTAPI_UNAVAILABLE"}'), 1);
    assert.equal(sample(text, 'ssr_recovery_events_stream_reconnects_total'), 1);
    assert.equal(sample(text, 'ssr_recovery_restore_test_last_success'), 0);
  });

  it('restore-test gauges show the newest result, from the daemon (sink) or on record (a CLI run)', async () => {
    let onFile: { archive: string; ok: boolean; at: string } | undefined;
    const m = createConductorMetrics(sources({ lastRestoreTest: async () => onFile }));
    assert.equal(sample(await m.render(), 'ssr_recovery_restore_test_last_success'), undefined, 'absent until one ran');
    m.sink.restoreTestFinished({ ok: false, archive: 'a', at: 1_700_000_000_000 });
    onFile = { archive: 'b', ok: true, at: new Date(1_700_000_060_000).toISOString() };
    let text = await m.render();
    assert.equal(sample(text, 'ssr_recovery_restore_test_last_success'), 1, 'the newer CLI run wins');
    assert.equal(sample(text, 'ssr_recovery_restore_test_last_timestamp_seconds'), 1_700_000_060);
    m.sink.restoreTestFinished({ ok: false, archive: 'c', at: 1_700_000_120_000 });
    text = await m.render();
    assert.equal(sample(text, 'ssr_recovery_restore_test_last_success'), 0, 'then the newer daemon run');
    assert.equal(sample(text, 'ssr_recovery_restore_test_last_timestamp_seconds'), 1_700_000_120);
  });

  it('newestRestoreTest skips malformed entries of restore-tests.json', () => {
    const good = { archive: 'x', ok: true, at: '2026-11-30T02:31:00.000Z' };
    const got = newestRestoreTest([
      null,
      'junk',
      { ok: 'yes', at: '2027-01-01T00:00:00Z' },
      { ok: false, at: 'soon' },
      good,
    ]);
    assert.deepEqual(got, good);
    assert.equal(newestRestoreTest([]), undefined);
  });

  it('the newest backup in the folder sets the backup gauges (a restarted daemon still knows it)', async () => {
    const m = createConductorMetrics(
      sources({
        backups: async () => [
          {
            name: 'n',
            path: '/n',
            size: 777,
            createdAt: '2026-12-01T02:00:00.000Z',
            ageSeconds: 1,
            kind: 'ours',
            encrypted: false,
            sidecar: 'ok',
          },
        ],
      }),
    );
    const text = await m.render();
    assert.equal(
      sample(text, 'ssr_recovery_backup_last_success_timestamp_seconds'),
      Date.parse('2026-12-01T02:00:00.000Z') / 1000,
    );
    assert.equal(sample(text, 'ssr_recovery_backup_last_size_bytes'), 777);
    assert.equal(sample(text, 'ssr_recovery_backups'), 1);
  });

  it('every metric is prefixed ssr_recovery_, counters end in _total', async () => {
    const text = await createConductorMetrics(sources()).render();
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!] as const);
    assert.ok(types.length > 10);
    for (const [name, type] of types) {
      assert.ok(name.startsWith('ssr_recovery_'), name);
      if (type === 'counter') assert.ok(name.endsWith('_total'), name);
    }
  });
});
