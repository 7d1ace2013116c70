/**
 * The conductor-agent daemon's composition root: builds the real services from configuration and
 * runs them under one lifecycle. Other parts plug in without editing this file by passing
 * `services` (e.g. the router-agent WebSocket server): they start after the built-in ones and stop
 * before them.
 */
import type { Loaded } from '../../shared/config/load.js';
import type { ConductorConfig } from '../../shared/config/schema.js';
import { nullLogger, type Logger } from '../../shared/log/logger.js';
import type { CreateBackupOptions, BackupReport } from '../backup/run.js';
import { createLifecycle, type Lifecycle, type LifecycleOptions, type Service } from './lifecycle.js';
import { scheduledJob } from './scheduler.js';
import { createAgentService } from '../ws/service.js';
import { createObserveService } from '../observe/server.js';
import { daemonSources } from '../observe/sources.js';
import { observeSink } from '../../shared/observe/sink.js';
import { hostname as osHostname } from 'node:os';
import { systemClock } from '../../shared/ports/clock.js';

export type { Service } from './lifecycle.js';

export interface DaemonOptions {
  loaded: Loaded<ConductorConfig>;
  logger?: Logger;
  /** Extra services, started in order after the built-in ones. */
  services?: readonly Service[];
  /** Injected for tests: how one scheduled backup runs (default createBackup with retention). */
  runBackup?: (options: CreateBackupOptions) => Promise<BackupReport>;
  lifecycle?: Omit<LifecycleOptions, 'logger'>;
}

export interface DaemonHandle {
  lifecycle: Lifecycle;
  /** Names of the running services, in start order. */
  services: string[];
  /** Resolves with the exit code once the daemon has stopped. */
  done: Promise<number>;
}

/** Built-in services from configuration (today: the backup schedule when `backup.schedule` is set). */
export function builtinServices(options: DaemonOptions): Service[] {
  const { config, root } = options.loaded;
  const logger = options.logger ?? nullLogger;
  const out: Service[] = [];
  if (config.backup.schedule) {
    out.push(
      scheduledJob({
        name: 'backup-schedule',
        schedule: config.backup.schedule,
        logger,
        run: async (signal) => {
          const run = options.runBackup ?? (await import('../backup/run.js')).createBackup;
          const { probeSsrVersion } = await import('../backup/ssr-version.js');
          const { systemProcessRunner } = await import('../../shared/ports/process-runner.js');
          const ssrVersion = await probeSsrVersion(systemProcessRunner, root);
          const began = Date.now();
          const report = await run({ config, root, logger, prune: config.backup.keep, ssrVersion, signal }).catch(
            (err: unknown) => {
              observeSink().backupFinished({ ok: false, durationSeconds: (Date.now() - began) / 1000, at: Date.now() });
              throw err;
            },
          );
          observeSink().backupFinished({
            ok: true,
            durationSeconds: (Date.now() - began) / 1000,
            sizeBytes: report.size,
            at: Date.now(),
          });
          if (config.backup.restoreTest && !signal?.aborted) {
            const { restoreTest } = await import('../backup/restore-test.js');
            await restoreTest({ archive: report.archive, config, root, logger }).catch((err: unknown) =>
              logger.error('restore-test could not run', { archive: report.archive, error: (err as Error).message }),
            );
          }
          logger.info('scheduled backup written', {
            archive: report.archive,
            size: report.size,
            sha256: report.sha256,
            pruned: report.pruned?.deleted.length ?? 0,
            offbox: report.offbox?.ok,
          });
        },
      }),
    );
  }
  // The router-agent channel (wss + control socket + enrollment); `agents.listen: off` disables it.
  const agents =
    config.agents.listen !== 'off' ? createAgentService({ config, path: options.loaded.path, logger }) : undefined;
  if (agents) {
    out.push(agents);
    // Automatic waves for stale routers (reauth.auto, off by default): after the agent channel.
    if (config.reauth.auto.enabled) {
      out.push(
        lazyService('reauth-trigger', async () =>
          (await import('../fleet/trigger.js')).createReauthTrigger({
            config,
            path: options.loaded.path,
            agents,
            logger,
            clock: systemClock,
          }),
        ),
      );
    }
  }
  // Read-only metrics, health and status page (`observe.listen: off` disables it).
  if (config.observe.listen !== 'off') {
    out.push(
      createObserveService({
        listen: config.observe.listen,
        conductorId: osHostname(),
        logger,
        refreshSeconds: config.observe.refreshSeconds,
        sources: daemonSources({
          fleet: () => agents?.server?.fleet(),
          backupDir: options.loaded.path(config.backup.dir),
          stateDir: options.loaded.path(config.agents.stateDir),
        }),
      }),
    );
  }
  return out;
}

/** Start the daemon; resolves once every service has started. */
export async function startDaemon(options: DaemonOptions): Promise<DaemonHandle> {
  const logger = (options.logger ?? nullLogger).child({ component: 'daemon' });
  const services = [...builtinServices(options), ...(options.services ?? [])];
  const lifecycle = createLifecycle(services, { ...options.lifecycle, logger });
  await lifecycle.start();
  logger.info('daemon ready', { services: services.map((s) => s.name), pid: process.pid });
  return { lifecycle, services: services.map((s) => s.name), done: lifecycle.done };
}

/** A service whose module is loaded only when it starts (the daemon's start stays small). */
function lazyService(name: string, make: () => Promise<Service>): Service {
  let svc: Service | undefined;
  return {
    name,
    async start() {
      svc = await make();
      await svc.start();
    },
    async stop() {
      await svc?.stop();
    },
  };
}
