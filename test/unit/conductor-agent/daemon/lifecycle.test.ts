import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import sinon from 'sinon';
import { createLifecycle, type Service } from '../../../../conductor-agent/daemon/lifecycle.js';
import { scheduledJob, validateSchedule } from '../../../../conductor-agent/daemon/scheduler.js';
import { hasCode } from '../../../../shared/errors.js';

function recorder(log: string[], name: string, opts: { failStart?: boolean; stopMs?: number } = {}): Service {
  return {
    name,
    start: async () => {
      if (opts.failStart) throw new Error('boom');
      log.push(`start ${name}`);
    },
    stop: async () => {
      await new Promise((r) => setTimeout(r, opts.stopMs ?? 0));
      log.push(`stop ${name}`);
    },
  };
}

describe('daemon lifecycle (in-process, signals injected)', () => {
  it('starts in order and stops in reverse order on SIGTERM, exit code 0', async () => {
    const log: string[] = [];
    const signals = new EventEmitter();
    const exit = sinon.spy();
    const lc = createLifecycle([recorder(log, 'a'), recorder(log, 'b')], { signals, exit });
    await lc.start();
    signals.emit('SIGTERM', 'SIGTERM');
    assert.equal(await lc.done, 0);
    assert.deepEqual(log, ['start a', 'start b', 'stop b', 'stop a']);
    assert.equal(exit.called, false);
    assert.equal(signals.listenerCount('SIGTERM'), 0, 'signal handlers removed');
  });

  it('a second signal exits at once', async () => {
    const signals = new EventEmitter();
    const exit = sinon.spy();
    const lc = createLifecycle([recorder([], 'slow', { stopMs: 200 })], { signals, exit });
    await lc.start();
    signals.emit('SIGTERM', 'SIGTERM');
    signals.emit('SIGINT', 'SIGINT');
    assert.deepEqual(exit.firstCall.args, [130]);
    await lc.done;
  });

  it('exits when the stop deadline passes', async () => {
    const signals = new EventEmitter();
    const exit = sinon.spy();
    const lc = createLifecycle([recorder([], 'stuck', { stopMs: 300 })], { signals, exit, deadlineMs: 20 });
    await lc.start();
    signals.emit('SIGTERM', 'SIGTERM');
    assert.equal(await lc.done, 1);
    assert.deepEqual(exit.firstCall.args, [1]);
  });

  it('a fatal error closes with the internal exit code', async () => {
    const signals = new EventEmitter();
    const lc = createLifecycle([recorder([], 'a')], { signals, exit: sinon.spy() });
    await lc.start();
    signals.emit('uncaughtException', new Error('bug'));
    assert.equal(await lc.done, 70);
  });

  it('a service that fails to start stops the ones already started', async () => {
    const log: string[] = [];
    const lc = createLifecycle([recorder(log, 'a'), recorder(log, 'b', { failStart: true })], {
      signals: new EventEmitter(),
      exit: sinon.spy(),
    });
    await assert.rejects(lc.start(), /boom/);
    assert.deepEqual(log, ['start a', 'stop a']);
    assert.equal(await lc.done, 1);
  });
});

describe('backup schedule', () => {
  it('rejects an invalid cron pattern as CONFIG_INVALID', () => {
    assert.throws(
      () => validateSchedule('61 * * * *'),
      (e) => hasCode(e, 'CONFIG_INVALID'),
    );
    validateSchedule('30 2 * * *');
  });

  it('runs on the schedule, and on stop cancels the running backup and waits for it', async () => {
    const clock = sinon.useFakeTimers({
      now: new Date('2026-11-24T02:29:59.500Z'),
      toFake: ['setTimeout', 'clearTimeout', 'Date'],
    });
    let runs = 0;
    let release!: () => void;
    let signal: AbortSignal | undefined;
    const job = scheduledJob({
      schedule: '30 2 * * *',
      run: (s) => {
        runs++;
        signal = s;
        return new Promise<void>((r) => {
          release = r;
        });
      },
    });
    await job.start();
    assert.equal(job.nextRun()?.toISOString(), '2026-11-24T02:30:00.000Z');
    await clock.tickAsync(1_000);
    assert.equal(runs, 1);
    let stopped = false;
    const stopping = job.stop().then(() => {
      stopped = true;
    });
    await clock.tickAsync(10);
    assert.equal(stopped, false, 'stop waits for the running backup');
    assert.equal(signal?.aborted, true, 'and asks it to cancel');
    release();
    await stopping;
    clock.restore();
  });
});
