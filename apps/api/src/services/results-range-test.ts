// An LR range test's answer: its curve (seeds averaged, smoothed, cut at divergence) and the base
// LRs it suggests.
import { type RangeTestView, sweepEnded } from '@lrsweep/contract';
import { rangeTestSeries } from '@lrsweep/db';
import { rangeTestAnswer } from '@lrsweep/sweep';
import { ApiError } from '../errors';
import { type ResultsDeps, sweepOf } from './results-ranking';

/** An LR range test's curve (seeds averaged, smoothed, cut at divergence) and the base LRs it suggests. */
export async function rangeTest(deps: ResultsDeps, sweepId: string, projectId: string): Promise<RangeTestView> {
  const sweep = await sweepOf(deps, sweepId, projectId);
  const spec = sweep.spec as { search?: { kind: string } };
  if (spec.search?.kind !== 'range_test')
    throw new ApiError('NOT_A_RANGE_TEST', 'this sweep is a grid search; its answer is GET /v1/sweeps/:id/results');
  const a = rangeTestAnswer(await rangeTestSeries(deps.db, sweepId));
  const provisional = !sweepEnded(sweep.status);
  if (!a)
    return {
      id: sweepId,
      provisional,
      seeds: 0,
      points: [],
      suggested: { baseLr: [] },
      steepestLr: null,
      minLossLr: null,
      divergedAtLr: null,
    };
  return { id: sweepId, provisional, ...a };
}
