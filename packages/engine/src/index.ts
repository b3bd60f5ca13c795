/**
 * The one home of a trial's life cycle, for the built-in workers, the agent routes and the
 * reconciler alike (shared/STYLE.md, round 3): claim, lease, reports, checkpoints, ends, and what
 * an end makes due for others.
 */
export { type AfterTrialDeps, type AfterTrialResult, afterTrial, type EndedTrial } from './after-trial';
export { type AttemptEnd, type AttemptEndKind, unreachable } from './outcomes';
export * from './transitions';
export { engineTransactions } from './counter';
export { type ForkPoint, handOffAtForkPoint } from './fork-handoff';
export { pauseAtRung, type RungPause } from './rung-pause';
export { type RecordedNumerics, settleSweepNumerics, sweepShapes } from './numerics';
