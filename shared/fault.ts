/**
 * Fault injection for the kill -9 suites, one mechanism for every command that has steps worth
 * killing: an environment switch `SSR_RECOVERY_<AREA>_FAULT=<step>[:<n>]` (areas: MIGRATE, KEYS,
 * REAUTH) makes the process kill itself with SIGKILL right after the n-th time it reaches `step`
 * (default the first; step names hold no `:`). Unset, every check is a no-op. The switch is read by
 * the command's wiring (from the CLI's environment), never by the code that does the work.
 */
export interface FaultPoint {
  phase: string;
  nth: number;
}

/** Parse the env switch (`phase` or `phase:n`). */
export function parseFault(value: string | undefined): FaultPoint | undefined {
  if (!value) return undefined;
  const [phase, n] = value.split(':');
  return phase ? { phase, nth: n ? Math.max(1, Number(n) || 1) : 1 } : undefined;
}

/** Counts the steps a run reaches and kills the process at the named one. */
export class FaultSwitch {
  readonly #seen = new Map<string, number>();
  constructor(readonly point: FaultPoint | undefined) {}

  /** The switch named `SSR_RECOVERY_<area>_FAULT` in `env`. */
  static fromEnv(env: NodeJS.ProcessEnv, area: 'MIGRATE' | 'KEYS' | 'REAUTH'): FaultSwitch {
    return new FaultSwitch(parseFault(env[`SSR_RECOVERY_${area}_FAULT`]));
  }

  /** Call right after `phase` is durable; at the chosen point this never returns. */
  reached(phase: string): void {
    if (!this.point || this.point.phase !== phase) return;
    const n = (this.#seen.get(phase) ?? 0) + 1;
    this.#seen.set(phase, n);
    if (n === this.point.nth) process.kill(process.pid, 'SIGKILL');
  }
}
