/**
 * A drill is an ordered list of named steps; each records its outcome, duration and facts for the
 * report. The first failing step stops the drill (later steps are reported as not run), and
 * cleanup always runs.
 */
export type StepStatus = 'ok' | 'failed' | 'not-run';

export interface StepResult {
  name: string;
  title: string;
  status: StepStatus;
  durationMs: number;
  facts: Record<string, unknown>;
  error?: { code: string; message: string; hint?: string | undefined };
}

export interface Step<C> {
  name: string;
  title: string;
  run(ctx: C, facts: Record<string, unknown>): Promise<void>;
}

export interface StepRunOptions {
  now?: () => number;
  /** Progress: called when a step starts and ends. */
  onProgress?: (event: { step: string; title: string; phase: 'start' | 'end'; result?: StepResult }) => void;
}

export async function runSteps<C>(ctx: C, steps: Step<C>[], options: StepRunOptions = {}): Promise<StepResult[]> {
  const now = options.now ?? (() => Date.now());
  const results: StepResult[] = [];
  let failed = false;
  for (const step of steps) {
    if (failed) {
      results.push({ name: step.name, title: step.title, status: 'not-run', durationMs: 0, facts: {} });
      continue;
    }
    options.onProgress?.({ step: step.name, title: step.title, phase: 'start' });
    const facts: Record<string, unknown> = {};
    const started = now();
    let result: StepResult;
    try {
      await step.run(ctx, facts);
      result = { name: step.name, title: step.title, status: 'ok', durationMs: now() - started, facts };
    } catch (err) {
      failed = true;
      const e = err as { code?: unknown; message?: unknown; hint?: unknown };
      result = {
        name: step.name,
        title: step.title,
        status: 'failed',
        durationMs: now() - started,
        facts,
        error: {
          code: typeof e.code === 'string' ? e.code : 'INTERNAL',
          message: String(e.message ?? err),
          hint: typeof e.hint === 'string' ? e.hint : undefined,
        },
      };
    }
    results.push(result);
    options.onProgress?.({ step: step.name, title: step.title, phase: 'end', result });
  }
  return results;
}
