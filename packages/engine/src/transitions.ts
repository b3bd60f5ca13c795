/**
 * The trial life cycle's transitions. Their SQL lives in @lrsweep/db for now and moves here one
 * family at a time (issue #30); apps reach them only through this package: a test
 * (test/engine-boundary.test.ts) fails any app or package that imports them from @lrsweep/db.
 */
export {
  // claim, start and lease
  claimTrial,
  claimTrialForAgent,
  renewLease,
  renewAgentLease,
  expireLapsedLease,
  recordRunInfo,
  trialState,
  trialForReport,
  trialTombstone,
  // reports
  writeUpdates,
  writeEvaluations,
  writeMetrics,
  refreshTrialSummary,
  recordCheckpoint,
  declareParamGroups,
  recordAgentCheckpoint,
  // ends
  finishTrial,
  failAttempt,
  releaseTrial,
  // search steps: forks (apps hand off with handOffAtForkPoint, fork-handoff.ts) and rungs
  waitingFork,
  handOffFork,
  releaseOrphanForks,
  reachRung,
  rungStateOf,
  decideRungs,
  sweepsWaitingAtRungs,
  // deliveries, holds, cancellation, deletion, retry, extension
  newDelivery,
  trialsAwaitingDelivery,
  admitHeldTrials,
  sweepsWithHeldTrials,
  cancelSweep,
  retryFailedTrials,
  deleteSweep,
  extendSweep,
  type ClaimedTrial,
} from '@lrsweep/db';
