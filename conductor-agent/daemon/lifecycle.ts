/**
 * The daemon's one lifecycle path (close-with-grace style): services start in order; SIGTERM,
 * SIGINT or a fatal error stop them in reverse order under one deadline; a second signal, or the
 * deadline passing, exits at once. Everything process-level (signals, exit) is injected so the
 * logic is testable in-process, and the real thing is tested by forking the daemon.
 */
import type { EventEmitter } from 'node:events';
import { ExitCode } from '../../shared/exit-codes.js';
import { nullLogger, type Logger } from '../../shared/log/logger.js';

/** Something the daemon runs: the backup scheduler, the router-agent WebSocket server, … */
export interface Service {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface LifecycleOptions {
  logger?: Logger;
  /** Total time allowed for the ordered stop (default 15 s). */
  deadlineMs?: number;
  /** Where signals and fatal errors come from (default `process`). */
  signals?: Pick<NodeJS.EventEmitter, 'on' | 'removeListener'>;
  /** Immediate exit (default `process.exit`): second signal, deadline passed. */
  exit?: (code: number) => void;
}

export interface Lifecycle {
  /** Start every service in order; on a failure, stop the started ones and reject. */
  start(): Promise<void>;
  /** Ordered stop; resolves with the exit code the process should end with. */
  close(reason: string, code?: number): Promise<number>;
  /** Resolves when the daemon has stopped (after close), with the exit code. */
  readonly done: Promise<number>;
}

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

export function createLifecycle(services: readonly Service[], options: LifecycleOptions = {}): Lifecycle {
  const logger = (options.logger ?? nullLogger).child({ component: 'lifecycle' });
  const deadlineMs = options.deadlineMs ?? 15_000;
  const signals = options.signals ?? (process as unknown as EventEmitter);
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const started: Service[] = [];
  let closing: Promise<number> | undefined;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => {
    resolveDone = r;
  });
  // Keeps the event loop alive while the daemon runs, whatever the services hold open.
  let keepAlive: NodeJS.Timeout | undefined;

  const onSignal = (sig: NodeJS.Signals): void => {
    if (closing) {
      logger.warn(`second ${sig}: exiting now`);
      exit(SIGNAL_EXIT[sig] ?? ExitCode.FAILED);
      return;
    }
    void close(`received ${sig}`, ExitCode.OK);
  };
  const onFatal = (err: unknown): void => {
    logger.error('fatal error, shutting down', {
      error: err instanceof Error ? { message: err.message, stack: err.stack } : String(err),
    });
    if (closing) return;
    void close('fatal error', ExitCode.INTERNAL);
  };
  const detach = (): void => {
    signals.removeListener('SIGTERM', onSignal);
    signals.removeListener('SIGINT', onSignal);
    signals.removeListener('uncaughtException', onFatal);
    signals.removeListener('unhandledRejection', onFatal);
  };

  async function stopAll(): Promise<boolean> {
    let clean = true;
    for (const s of [...started].reverse()) {
      try {
        await s.stop();
        logger.info('service stopped', { service: s.name });
      } catch (err) {
        clean = false;
        logger.error('service failed to stop', { service: s.name, error: (err as Error).message });
      }
    }
    started.length = 0;
    return clean;
  }

  function close(reason: string, code: number = ExitCode.OK): Promise<number> {
    if (closing) return closing;
    logger.info('shutting down', { reason, deadlineMs });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<number>((resolve) => {
      timer = setTimeout(() => {
        logger.error('shutdown deadline passed: exiting now', { deadlineMs });
        exit(ExitCode.FAILED);
        resolve(ExitCode.FAILED);
      }, deadlineMs);
    });
    closing = Promise.race([stopAll().then((clean) => (clean ? code : code || ExitCode.FAILED)), deadline]).then(
      (c) => {
        clearTimeout(timer);
        clearInterval(keepAlive);
        detach();
        resolveDone(c);
        return c;
      },
    );
    return closing;
  }

  return {
    done,
    close,
    async start() {
      signals.on('SIGTERM', onSignal);
      signals.on('SIGINT', onSignal);
      signals.on('uncaughtException', onFatal);
      signals.on('unhandledRejection', onFatal);
      keepAlive = setInterval(() => undefined, 1 << 30);
      for (const s of services) {
        try {
          await s.start();
        } catch (err) {
          logger.error('service failed to start', { service: s.name, error: (err as Error).message });
          await close(`${s.name} failed to start`, ExitCode.FAILED);
          throw err;
        }
        started.push(s);
        logger.info('service started', { service: s.name });
      }
    },
  };
}
