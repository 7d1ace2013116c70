/**
 * Wave progress: a cli-progress bar on stderr with counts by outcome when stderr is a terminal and
 * the output is not `--json`; quiet otherwise (the report says everything at the end).
 */
import type { CliIo } from '../../shared/cli/io.js';
import type { WavePlan } from './plan.js';
import type { RouterOutcome } from './report.js';

export interface WaveProgress {
  plan(p: WavePlan): void;
  outcome(o: RouterOutcome): void;
  stop(): void;
}

export async function startProgress(io: CliIo, json: boolean): Promise<WaveProgress> {
  if (!io.isTTY || json || !process.stderr.isTTY)
    return { plan: () => undefined, outcome: () => undefined, stop: () => undefined };
  const { SingleBar, Presets } = await import('cli-progress');
  const bar = new SingleBar(
    {
      stream: process.stderr,
      format:
        'reauth [{bar}] {value}/{total} | done {done} failed {failed} impostor {impostor} ' +
        'blocked {blocked} skipped {skipped}',
      hideCursor: true,
      clearOnComplete: false,
    },
    Presets.shades_classic,
  );
  const counts: Record<string, number> = { done: 0, failed: 0, impostor: 0, blocked: 0, skipped: 0 };
  let started = false;
  let stopped = false;
  return {
    plan(p) {
      bar.start(p.routers.length, 0, counts);
      started = true;
    },
    outcome(o) {
      if (o.state in counts) counts[o.state]!++;
      if (started) bar.increment(1, counts);
    },
    stop() {
      if (started && !stopped) {
        stopped = true;
        bar.stop();
      }
    },
  };
}
