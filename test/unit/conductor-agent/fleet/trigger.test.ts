import assert from 'node:assert/strict';
import { decideTrigger, inWindow } from '../../../../conductor-agent/fleet/trigger.js';

const at = (hhmm: string): number => Date.parse(`2026-12-01T${hhmm}:00Z`);

describe('automatic re-authentication policy (pure)', () => {
  it('runs only for a bounded number of stale routers, inside the window, one wave at a time', () => {
    const policy = { maxRouters: 3, window: '01:00-05:00' };
    assert.deepEqual(decideTrigger(['b', 'a'], policy, at('02:00'), false), { run: true, routers: ['a', 'b'] });
    assert.equal(
      decideTrigger(['a', 'b', 'c', 'd'], policy, at('02:00'), false).run,
      false,
      'more than maxRouters: an operator decides',
    );
    assert.match((decideTrigger(['a'], policy, at('06:00'), false) as { why: string }).why, /outside the window/);
    assert.equal(decideTrigger(['a'], policy, at('02:00'), true).run, false);
    assert.equal(decideTrigger([], policy, at('02:00'), false).run, false);
    assert.equal(decideTrigger(['a'], { maxRouters: 3 }, at('12:00'), false).run, true, 'no window: any time');
  });

  it('windows may wrap midnight', () => {
    assert.ok(inWindow('22:00-04:00', at('23:30')));
    assert.ok(inWindow('22:00-04:00', at('03:59')));
    assert.ok(!inWindow('22:00-04:00', at('04:00')));
    assert.ok(!inWindow('bad', at('04:00')));
  });
});
