/** Restore pipeline: public entry points (re-exports only). */
export {
  restoreConductor,
  resumeRestore,
  rollbackRestore,
  type RestoreOptions,
  type JournalRunOptions,
} from './run.js';
export { planRestore, type PlanInput } from './plan.js';
export type { RestorePorts } from './ports.js';
export type { RestoreReport, RestorePlan, PlanEntry, Finding, StagedMember, CurrentState } from './types.js';
export { restorePortsFromConfig, type RestorePortsFromConfig } from './from-config.js';
