import { strict as assert } from 'node:assert';
import { countByTrust, esc, filterFleet, renderStatusPage } from '../../../../conductor-agent/observe/page.js';
import type { FleetEntry } from '../../../../conductor-agent/ws/fleet-view.js';
import type { BackupListing } from '../../../../conductor-agent/backup/list.js';

const fleet: FleetEntry[] = [
  { routerId: 'router-1', connected: true, enrolled: true, trust: 'trusted' },
  { routerId: 'router-2', connected: true, enrolled: true, trust: 'stale-master-key' },
  { routerId: 'edge-9', connected: false, enrolled: true },
];
const backup: BackupListing = {
  name: 'conductor-backup-c1-node1-2026-12-01T020000Z.tar.gz',
  path: '/x',
  size: 1234,
  createdAt: '2026-12-01T02:00:00.000Z',
  ageSeconds: 10,
  kind: 'ours',
  encrypted: false,
  sidecar: 'ok',
};
const base = { conductorId: 'c1', generatedAt: '2026-12-01T03:00:00.000Z', fleet, backups: [backup], waves: [] };

describe('status page (pure render)', () => {
  it('counts routers by trust state, routers without a report as unknown', () => {
    assert.deepEqual(
      [...countByTrust(fleet)],
      [
        ['stale-master-key', 1],
        ['trusted', 1],
        ['unknown', 1],
      ],
    );
  });

  it('filters by id substring and by exact trust state', () => {
    assert.deepEqual(
      filterFleet(fleet, { q: 'ROUTER' }).map((r) => r.routerId),
      ['router-1', 'router-2'],
    );
    assert.deepEqual(
      filterFleet(fleet, { trust: 'unknown' }).map((r) => r.routerId),
      ['edge-9'],
    );
    assert.deepEqual(
      filterFleet(fleet, { q: 'router', trust: 'trusted' }).map((r) => r.routerId),
      ['router-1'],
    );
  });

  it('shows only the filtered rows and says how many of how many', () => {
    const html = renderStatusPage({ ...base, filter: { trust: 'stale-master-key' } });
    assert.match(html, /1 of 3 shown/);
    assert.match(html, /data-router="router-2"/);
    assert.doesNotMatch(html, /data-router="router-1"/);
  });

  it('escapes a hostile router id and a hostile filter (a router owner names its minion)', () => {
    const evil = '"><script>alert(1)</script>';
    const html = renderStatusPage({
      ...base,
      fleet: [{ routerId: evil, connected: true, enrolled: false }],
      filter: { q: evil },
    });
    assert.doesNotMatch(html, /<script>/);
    assert.match(html, /&quot;&gt;&lt;script&gt;/);
    assert.equal(esc(`<'&">`), '&lt;&#39;&amp;&quot;&gt;');
  });

  it('has no script and no external asset, refreshes itself and carries no form that posts', () => {
    const html = renderStatusPage({ ...base, refreshSeconds: 7 });
    assert.doesNotMatch(html, /<script|src=|href="http|@import/i);
    assert.match(html, /http-equiv="refresh" content="7"/);
    assert.doesNotMatch(html, /method="post"/i);
  });

  it('shows waves with progress, and backups with their check state', () => {
    const html = renderStatusPage({
      ...base,
      waves: [
        {
          kind: 'reauth',
          id: 'w1',
          startedAt: 't',
          status: 'running',
          total: 10,
          counts: { done: 4, skipped: 2, failed: 1 },
        },
      ],
    });
    assert.match(html, /<progress max="10" value="6">/);
    assert.match(html, /6\/10/);
    assert.match(html, /conductor-backup-c1-node1/);
    assert.match(html, /class="ok">ok</);
  });
});
