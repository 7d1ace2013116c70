import assert from 'node:assert/strict';
import sinon from 'sinon';
import { systemClock, type Clock } from '../../../../shared/ports/clock.js';
import { RateLimiter, Slots, defaultRate } from '../../../../conductor-agent/fleet/rate.js';

describe('fleet rate limiter and slots', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 1_000_000, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => clock.restore());
  const fake: Clock = {
    ...systemClock,
    now: () => Date.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (t) => clearTimeout(t),
  };

  it('spaces starts 1/rate apart and never bunches them to catch up after a stall', async () => {
    const limiter = new RateLimiter(10, fake);
    const starts: number[] = [];
    const run = (async () => {
      for (let i = 0; i < 5; i++) {
        await limiter.acquire();
        starts.push(Date.now());
      }
      await new Promise((r) => setTimeout(r, 1000)); // a stall
      for (let i = 0; i < 3; i++) {
        await limiter.acquire();
        starts.push(Date.now());
      }
    })();
    await clock.tickAsync(5_000);
    await run;
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    assert.deepEqual(gaps.slice(0, 4), [100, 100, 100, 100]);
    assert.ok(gaps[4]! >= 1000);
    assert.deepEqual(gaps.slice(5), [100, 100]);
  });

  it('rate 0 does not wait; Slots hold at most the limit', async () => {
    const limiter = new RateLimiter(0, fake);
    const t0 = Date.now();
    await limiter.acquire();
    assert.equal(Date.now(), t0);
    const slots = new Slots(2);
    await slots.take();
    await slots.take();
    let third = false;
    void slots.take().then(() => {
      third = true;
    });
    await clock.tickAsync(10);
    assert.equal(third, false);
    slots.release();
    await clock.tickAsync(0);
    assert.equal(third, true);
    assert.equal(slots.held, 2);
  });

  it('default rate: 5 per master worker (Salt: one worker per 200 minions; worker_threads default 5)', () => {
    assert.equal(defaultRate(undefined), 25);
    assert.equal(defaultRate(50), 250);
  });
});
