import assert from 'node:assert/strict';
import { hasCode } from '../../../../shared/errors.js';
import { isoWeekKey, planRetention, type RetentionItem } from '../../../../conductor-agent/backup/retention.js';

const item = (iso: string, group = 'h-n'): RetentionItem => ({
  name: `b-${group}-${iso}`,
  createdAt: new Date(iso),
  group,
});
const kept = (items: RetentionItem[], policy: { last: number; daily: number; weekly: number }): string[] =>
  planRetention(items, policy)
    .filter((d) => d.keep)
    .map((d) => d.name)
    .sort();

describe('backup retention (pure)', () => {
  const hourly = Array.from({ length: 24 * 20 }, (_, i) =>
    item(new Date(Date.UTC(2026, 10, 1) + i * 3_600_000).toISOString()),
  );

  it('keep-last keeps exactly the newest N', () => {
    const k = kept(hourly, { last: 3, daily: 0, weekly: 0 });
    assert.deepEqual(
      k,
      hourly
        .slice(-3)
        .map((i) => i.name)
        .sort(),
    );
  });

  it('keep-daily keeps the newest backup of each of the newest N days', () => {
    const k = kept(hourly, { last: 0, daily: 5, weekly: 0 });
    assert.equal(k.length, 5);
    for (const name of k) assert.match(name, /T23:00:00/);
  });

  it('keep-weekly keeps one per ISO week, and rules combine as a union', () => {
    const k = kept(hourly, { last: 2, daily: 2, weekly: 3 });
    // Backups run hourly 2026-11-01…20: last 2 = the 20th 23:00 and 22:00; daily 2 adds the 19th 23:00;
    // weekly 3 adds the newest of ISO weeks 46 (the 15th) and 45 (the 8th).
    const at = (d: string) => `b-h-n-2026-11-${d}.000Z`;
    assert.deepEqual(
      k,
      [at('20T23:00:00'), at('20T22:00:00'), at('19T23:00:00'), at('15T23:00:00'), at('08T23:00:00')].sort(),
    );
  });

  it('judges each host-node pair on its own', () => {
    const items = [
      item('2026-11-01T00:00:00Z', 'a'),
      item('2026-11-02T00:00:00Z', 'a'),
      item('2026-10-01T00:00:00Z', 'b'),
    ];
    assert.deepEqual(kept(items, { last: 1, daily: 0, weekly: 0 }), [items[1]!.name, items[2]!.name].sort());
  });

  it('refuses a policy that keeps nothing (USAGE)', () => {
    assert.throws(
      () => planRetention(hourly, { last: 0, daily: 0, weekly: 0 }),
      (e) => hasCode(e, 'USAGE'),
    );
  });

  it('computes ISO weeks across the year boundary', () => {
    assert.equal(isoWeekKey(new Date('2026-01-01T12:00:00Z')), '2026-W01');
    assert.equal(isoWeekKey(new Date('2027-01-01T12:00:00Z')), '2026-W53');
    assert.equal(isoWeekKey(new Date('2026-11-24T12:00:00Z')), '2026-W48');
  });
});
