/**
 * Scheduled backups: a croner job on `backup.schedule` (5 or 6 cron fields, UTC unless the pattern
 * service says otherwise). Runs never overlap (`protect`); a failed run is logged and the schedule
 * goes on. On stop, the running backup is cancelled between files and awaited (the lifecycle's
 * deadline bounds the wait; even a backup killed mid-write leaves no archive, by design).
 */
import { Cron } from 'croner';
import { ConfigError } from '../../shared/errors.js';
import { nullLogger, type Logger } from '../../shared/log/logger.js';
import type { Service } from './lifecycle.js';

export interface ScheduledJob extends Service {
  /** Next planned run, if any. */
  nextRun(): Date | null;
}

export interface SchedulerOptions {
  /** Cron pattern. */
  schedule: string;
  /** IANA time zone for the pattern (default UTC). */
  timezone?: string;
  /** One run; rejections are logged, not fatal. The signal aborts when the job is stopped. */
  run: (signal: AbortSignal) => Promise<void>;
  logger?: Logger;
  /** Name shown in logs. */
  name?: string;
}

/** Check a pattern now, so a typo is a config error at start, not a silent missing backup. */
export function validateSchedule(schedule: string, timezone = 'UTC'): void {
  try {
    const probe = new Cron(schedule, { paused: true, timezone });
    probe.stop();
  } catch (err) {
    throw new ConfigError(
      'CONFIG_INVALID',
      `backup.schedule ${JSON.stringify(schedule)} is not a valid cron pattern: ${(err as Error).message}`,
      {
        cause: err,
        hint: 'Use 5 fields (minute hour day month weekday) or 6 with seconds first, e.g. "15 2 * * *".',
      },
    );
  }
}

export function scheduledJob(options: SchedulerOptions): ScheduledJob {
  const logger = (options.logger ?? nullLogger).child({ component: 'scheduler' });
  const name = options.name ?? 'backup-schedule';
  let job: Cron | undefined;
  let running: Promise<void> | undefined;
  let abort: AbortController | undefined;
  const tick = async (): Promise<void> => {
    const started = Date.now();
    logger.info('scheduled run starting', { job: name });
    abort = new AbortController();
    running = options.run(abort.signal).then(
      () => logger.info('scheduled run finished', { job: name, durationMs: Date.now() - started }),
      (err: unknown) =>
        logger.error('scheduled run failed', {
          job: name,
          error: err instanceof Error ? { message: err.message, code: (err as { code?: string }).code } : String(err),
        }),
    );
    await running;
    running = undefined;
  };
  return {
    name,
    nextRun: () => job?.nextRun() ?? null,
    async start() {
      validateSchedule(options.schedule, options.timezone);
      job = new Cron(options.schedule, { protect: true, timezone: options.timezone ?? 'UTC', name }, tick);
      logger.info('schedule armed', { job: name, next: job.nextRun()?.toISOString() });
    },
    async stop() {
      job?.stop();
      // A backup in progress is cancelled between files rather than cut by the stop deadline.
      abort?.abort(new Error('daemon stopping'));
      await running;
    },
  };
}
