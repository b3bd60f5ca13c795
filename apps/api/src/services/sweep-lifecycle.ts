// A sweep's life after submission: cancelled (queued and running trials stop), deleted (with its
// trials and metrics), or its failed trials retried with a fresh failure budget.
import { sweepEnded } from '@lrsweep/contract';
import { cancelSweep, deleteSweep, retryFailedTrials } from '@lrsweep/engine';
import { ApiError } from '../errors';
import { type SweepContext, within } from './sweep-context';

/** Cancels queued and running trials (workers stop within a metric flush); 409 once it has ended. */
export async function cancelSweepTrials(ctx: SweepContext, sweepId: string, projectId: string) {
  const { d, mustGet } = ctx;
  const { db, queue, enqueueTimeoutMs, log } = d;
  const sweep = await mustGet(sweepId, projectId);
  if (sweepEnded(sweep.status))
    throw new ApiError('SWEEP_UNCHANGED', `the sweep has ended (${sweep.status}); there is nothing to cancel`);
  const { cancelled } = await cancelSweep(db, sweepId);
  await within(
    queue.removeJobs(
      { projectId, pool: sweep.pool, runner: sweep.runnerKind },
      cancelled.flatMap((t) => (t.job_id ? [t.job_id] : [])),
    ),
    enqueueTimeoutMs,
    'removing jobs',
  ).catch(
    // Workers drop a cancelled trial's delivery themselves: a job Redis keeps is harmless.
    (err) => log?.warn({ err }, 'could not remove the cancelled jobs from the queue'),
  );
  return { cancelledTrials: cancelled.length, sweep: await mustGet(sweepId, projectId) };
}

/**
 * Deletes the sweep, its trials and their metrics; running trials stop as cancelled ones do,
 * their checkpoints go with the workers' next sweep of the checkpoint folder.
 */
export async function removeSweep(ctx: SweepContext, sweepId: string, projectId: string) {
  const { d, mustGet } = ctx;
  const { db, queue, enqueueTimeoutMs, log } = d;
  const sweep = await mustGet(sweepId, projectId);
  const { trials, jobIds } = await deleteSweep(db, sweepId);
  if (jobIds.length) {
    await within(
      queue.removeJobs({ projectId, pool: sweep.pool, runner: sweep.runnerKind }, jobIds),
      enqueueTimeoutMs,
      'removing jobs',
    ).catch(
      // A job of a deleted trial finds nothing to claim: one Redis keeps is harmless.
      (err) => log?.warn({ err }, "could not remove the deleted sweep's jobs from the queue"),
    );
  }
  return { deleted: true as const, id: sweepId, trials };
}

/** Re-runs the sweep's failed trials, and only those, with a fresh failure budget; 409 when none failed. */
export async function retrySweep(ctx: SweepContext, sweepId: string, projectId: string) {
  const { d, mustGet, deliver } = ctx;
  const { db } = d;
  const sweep = await mustGet(sweepId, projectId);
  if (sweep.cancelledAt) throw new ApiError('SWEEP_CANCELLED', 'a cancelled sweep cannot be retried');
  const { retried, deliveries } = await retryFailedTrials(db, sweepId);
  if (!retried) throw new ApiError('SWEEP_UNCHANGED', 'no trial of the sweep has failed; there is nothing to retry');
  if (deliveries.length) await deliver(deliveries);
  return { retriedTrials: retried, sweep: await mustGet(sweepId, projectId) };
}
