import { numericsBackendOf } from '@lrsweep/contract';
import { type ClaimedTrial, claimTrial, trialState } from '@lrsweep/engine';
import { DelayedError, type Job } from '@lrsweep/queue';
import type { TrialRunnerDeps } from './run-trial';

/**
 * Claims the trial, or tells why not: another worker's (look again once its lease could lapse:
 * if that worker dies this delivery picks the trial up, if it finishes the delivery is dropped),
 * or not claimable (finished, cancelled, gone): the delivery ends.
 */
export async function claim(
  d: TrialRunnerDeps,
  trialId: string,
  job: Job,
  token: string | undefined,
): Promise<ClaimedTrial | null> {
  const claimed = await claimTrial(d.db, trialId, d.workerId, d.leaseMs, 'builtin', d.numerics());
  if (claimed) return claimed;
  const state = await trialState(d.db, trialId);
  if (state?.status === 'running' && state.leaseExpiresAt && !state.sweepCancelled) {
    await job.moveToDelayed(state.leaseExpiresAt.getTime() + 1000, token);
    throw new DelayedError();
  }
  const capable = d.numerics();
  const incapable = state?.numericsId
    ? !capable.includes(state.numericsId)
    : state?.askedBackend !== 'auto' && !capable.some((k) => numericsBackendOf(k) === state?.askedBackend);
  if (state?.status === 'queued' && !state.sweepCancelled && incapable) {
    // Its sweep trains under a key (or its spec asks for a backend) this worker cannot run: back to
    // the queue a while later (with jitter, so workers that cannot do not pass it to and fro), for
    // a worker that can.
    d.log.debug(
      { trialId, numerics: state.numericsId, backend: state.askedBackend },
      'delivery delayed: this worker cannot run its numerics key',
    );
    await job.moveToDelayed(Date.now() + 10_000 + Math.floor(Math.random() * 10_000), token);
    throw new DelayedError();
  }
  d.log.info({ trialId, status: state?.status ?? 'missing' }, 'delivery skipped: trial not claimable');
  return null;
}
