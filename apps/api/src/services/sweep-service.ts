import { randomUUID } from 'node:crypto';
import {
  cancelSweep,
  createSweep,
  type Db,
  findIdempotentSweep,
  getSweep,
  Prisma,
  retryFailedTrials,
} from '@lrsweep/db';
import type { TrialQueue } from '@lrsweep/queue';
import {
  canonicalJson,
  expandSweep,
  planTrials,
  scheduleKeyOf,
  sha256,
  type SweepSpec,
} from '@lrsweep/sweep';
import { ApiError, notFound } from '../errors';

export interface SweepServiceDeps {
  db: Db;
  queue: TrialQueue;
  maxTrials: number;
}

/** How long an Idempotency-Key holds. */
export const idempotencyTtlMs = 24 * 3600 * 1000;

export interface Created {
  id: string;
  name: string;
  status: 'queued';
  trialCount: number;
  configCount: number;
  totalSteps: number;
}

export function createSweepService({ db, queue, maxTrials }: SweepServiceDeps) {
  const mustGet = async (sweepId: string, projectId: string) => {
    const s = await getSweep(db, sweepId, projectId);
    if (!s) throw notFound('sweep', sweepId);
    return s;
  };

  /** The answer a repeated Idempotency-Key gets: the first sweep, if the body is the same. */
  const replay = async (projectId: string, key: string, requestHash: string): Promise<Created | null> => {
    const prior = await findIdempotentSweep(db, projectId, key, idempotencyTtlMs);
    if (!prior) return null;
    if (prior.requestHash !== requestHash) {
      throw new ApiError(409, 'IDEMPOTENCY_CONFLICT', 'this Idempotency-Key was used with a different body');
    }
    const s = await mustGet(prior.sweepId, projectId);
    const spec = s.spec as SweepSpec;
    const expanded = expandSweep(spec, { maxTrials: Number.MAX_SAFE_INTEGER });
    return {
      id: s.id,
      name: s.name,
      status: 'queued',
      trialCount: s.trialCount,
      configCount: expanded.ok ? expanded.plan.configs.length : 0,
      totalSteps: expanded.ok ? expanded.plan.totalSteps : 0,
    };
  };

  return {
    /** What a spec would make, or its problems: nothing is stored (the dashboard's live check). */
    validate(spec: SweepSpec) {
      const expanded = expandSweep(spec, { maxTrials });
      if (!expanded.ok) return { valid: false as const, issues: expanded.issues };
      const { plan } = expanded;
      return {
        valid: true as const,
        trialCount: plan.trialCount,
        configCount: plan.configs.length,
        totalSteps: plan.totalSteps,
        totalUpdates: plan.trialCount * plan.totalSteps,
      };
    },

    /** Expands, stores and enqueues a validated sweep; an invalid one creates nothing. */
    async submit(spec: SweepSpec, projectId: string, idempotencyKey?: string): Promise<Created & { replayed: boolean }> {
      const requestHash = sha256(canonicalJson(spec));
      if (idempotencyKey) {
        const prior = await replay(projectId, idempotencyKey, requestHash);
        if (prior) return { ...prior, replayed: true };
      }
      const expanded = expandSweep(spec, { maxTrials });
      if (!expanded.ok) {
        const message = expanded.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
        throw new ApiError(400, 'SPEC_INVALID', message, expanded.issues);
      }
      const { plan } = expanded;
      const id = randomUUID();
      const trials = planTrials(plan, id).map((t) => ({ ...t, id: randomUUID() }));
      try {
        await createSweep(db, {
          id,
          projectId,
          configs: plan.configs.map((c) => ({ ...c, scheduleKey: scheduleKeyOf(c.schedule) })),
          name: spec.name,
          spec,
          objective: spec.objective,
          totalSteps: plan.totalSteps,
          trials,
          ...(idempotencyKey ? { idempotency: { key: idempotencyKey, requestHash } } : {}),
        });
      } catch (err) {
        // The same key, sent twice at once: the first one made the sweep.
        if (idempotencyKey && err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
          const prior = await replay(projectId, idempotencyKey, requestHash);
          if (prior) return { ...prior, replayed: true };
        }
        throw err;
      }
      try {
        await queue.enqueueTrials(trials.map((t) => ({ trialId: t.id, sweepId: id, jobId: `trial-${t.id}` })));
      } catch (err) {
        // Without a queue nobody would run it: take the sweep back rather than leave it stranded.
        await db.sweep.delete({ where: { id } }).catch(() => {});
        await db.idempotencyKey.deleteMany({ where: { sweepId: id } }).catch(() => {});
        throw new ApiError(503, 'QUEUE_UNAVAILABLE', `the trial queue is unavailable: ${(err as Error).message}`);
      }
      return { id, name: spec.name, status: 'queued', trialCount: trials.length, configCount: plan.configs.length, totalSteps: plan.totalSteps, replayed: false };
    },

    /** Cancels queued and running trials (workers stop within a metric flush); idempotent. */
    async cancel(sweepId: string, projectId: string) {
      await mustGet(sweepId, projectId);
      const { cancelled } = await cancelSweep(db, sweepId);
      await queue.removeJobs(cancelled.flatMap((t) => (t.job_id ? [t.job_id] : [])));
      return { cancelledTrials: cancelled.length, sweep: await mustGet(sweepId, projectId) };
    },

    /** Re-runs the sweep's failed trials, and only those; idempotent once none is failed. */
    async retry(sweepId: string, projectId: string) {
      const sweep = await mustGet(sweepId, projectId);
      if (sweep.cancelledAt) throw new ApiError(409, 'SWEEP_CANCELLED', 'a cancelled sweep cannot be retried');
      const deliveries = await retryFailedTrials(db, sweepId);
      await queue.enqueueTrials(deliveries);
      return { retriedTrials: deliveries.length, sweep: await mustGet(sweepId, projectId) };
    },
  };
}
