/**
 * What long-running work reports to whoever watches it (Prometheus metrics, the status page). Code
 * that does the work calls these hooks; it never imports a metrics library. The daemon installs a
 * real sink with {@link setObserveSink}; everywhere else (CLIs, tests, the router agent) the default
 * no-op sink costs nothing.
 */
export interface ObserveSink {
  /** A backup run ended (scheduled or by hand in the daemon's process). */
  backupFinished(r: { ok: boolean; durationSeconds: number; sizeBytes?: number | undefined; at: number }): void;
  /** A restore-test (rehearsal restore into a sandbox root) ended. */
  restoreTestFinished(r: { ok: boolean; archive: string; at: number }): void;
  /** One router's re-authentication ended. */
  reauthFinished(r: { outcome: 'ok' | 'failed'; channel: string; code?: string | undefined }): void;
  /** salt-api answered with an error (or was unreachable), by stable error code. */
  saltApiError(code: string): void;
  /** The salt-api `/events` stream was re-opened. */
  eventsReconnected(): void;
}

const noop: ObserveSink = {
  backupFinished: () => undefined,
  restoreTestFinished: () => undefined,
  reauthFinished: () => undefined,
  saltApiError: () => undefined,
  eventsReconnected: () => undefined,
};

let current: ObserveSink = noop;

/** The sink in force (no-op unless a daemon installed one). */
export function observeSink(): ObserveSink {
  return current;
}

/** Install a sink (the daemon's metrics); returns a function that restores the previous one. */
export function setObserveSink(sink: ObserveSink): () => void {
  const before = current;
  current = sink;
  return () => {
    current = before;
  };
}
