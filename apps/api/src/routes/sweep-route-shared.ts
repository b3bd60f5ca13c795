import { errorBodySchema } from '@lrsweep/contract';
import type { Db, SweepView } from '@lrsweep/db';
import type { createSweepService } from '../services/sweep-service';

/** What the sweep route families take. */
export interface SweepRouteDeps {
  db: Db;
  sweeps: ReturnType<typeof createSweepService>;
  /** A built-in worker silent this long is not counted as able to run a sweep's numerics key. */
  workerLostAfterMs?: number;
}

export const sweepErrors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema, 404: errorBodySchema };

/** A sweep as lists and answers show it. */
export const sweepSummary = (s: SweepView) => ({
  id: s.id,
  name: s.name,
  status: s.status,
  counts: s.counts,
  trialCount: s.trialCount,
  runner: s.runnerKind,
  pool: s.pool,
  selectedOn: s.selectedOn,
  createdAt: s.createdAt.toISOString(),
  cancelledAt: s.cancelledAt?.toISOString() ?? null,
  endedAt: s.endedAt?.toISOString() ?? null,
});
