/**
 * The trial life cycle's transitions. Their SQL lives in @lrsweep/db for now and moves here one
 * family at a time (issue #30); apps reach them only through this package: a test
 * (test/engine-boundary.test.ts) fails any app or package that imports them from @lrsweep/db.
 * Each is the store's function over the engine's counted client (counter.ts): every transaction
 * a transition runs is counted.
 */
import * as store from '@lrsweep/db';
import type { Db } from '@lrsweep/db';
import { counting } from './counter';

/** A store function run over the engine's counted client. */
const viaEngine =
  <A extends unknown[], R>(f: (db: Db, ...a: A) => R) =>
  (db: Db, ...a: A): R =>
    f(counting(db), ...a);

export const claimTrial = viaEngine(store.claimTrial);
export const claimTrialForAgent = viaEngine(store.claimTrialForAgent);
export const renewLease = viaEngine(store.renewLease);
export const renewAgentLease = viaEngine(store.renewAgentLease);
export const expireLapsedLease = viaEngine(store.expireLapsedLease);
export const recordRunInfo = viaEngine(store.recordRunInfo);
export const trialState = viaEngine(store.trialState);
export const trialForReport = viaEngine(store.trialForReport);
export const trialTombstone = viaEngine(store.trialTombstone);
export const writeUpdates = viaEngine(store.writeUpdates);
export const writeEvaluations = viaEngine(store.writeEvaluations);
export const writeMetrics = viaEngine(store.writeMetrics);
export const refreshTrialSummary = viaEngine(store.refreshTrialSummary);
export const recordCheckpoint = viaEngine(store.recordCheckpoint);
export const declareParamGroups = viaEngine(store.declareParamGroups);
export const recordAgentCheckpoint = viaEngine(store.recordAgentCheckpoint);
export const finishTrial = viaEngine(store.finishTrial);
export const failAttempt = viaEngine(store.failAttempt);
export const releaseTrial = viaEngine(store.releaseTrial);
export const waitingFork = viaEngine(store.waitingFork);
export const handOffFork = viaEngine(store.handOffFork);
export const releaseOrphanForks = viaEngine(store.releaseOrphanForks);
export const reachRung = viaEngine(store.reachRung);
export const decideRungs = viaEngine(store.decideRungs);
export const sweepsWaitingAtRungs = viaEngine(store.sweepsWaitingAtRungs);
export const newDelivery = viaEngine(store.newDelivery);
export const trialsAwaitingDelivery = viaEngine(store.trialsAwaitingDelivery);
export const admitHeldTrials = viaEngine(store.admitHeldTrials);
export const sweepsWithHeldTrials = viaEngine(store.sweepsWithHeldTrials);
export const cancelSweep = viaEngine(store.cancelSweep);
export const retryFailedTrials = viaEngine(store.retryFailedTrials);
export const deleteSweep = viaEngine(store.deleteSweep);
export const extendSweep = viaEngine(store.extendSweep);
export type { ClaimedTrial } from '@lrsweep/db';
