// What the sweep use cases share (sweep-submit.ts, sweep-extend.ts, sweep-lifecycle.ts): their
// dependencies with defaults, a sweep of the caller's project or 404, the answer to a repeated
// Idempotency-Key, and delivery to the queue that never holds a request for long.
import type { SweepCreated, SweepSpec } from '@lrsweep/contract';
import { type Db, findIdempotentSweep, getSweep } from '@lrsweep/db';
import type { Delivery, TrialQueue } from '@lrsweep/queue';
import { expandSweep } from '@lrsweep/sweep';
import type { Logger } from 'pino';
import { ApiError, notFound } from '../errors';

export interface SweepServiceDeps {
  db: Db;
  queue: TrialQueue;
  maxTrials: number;
  /** The longest horizon a trial may have (MAX_TRIAL_STEPS). */
  maxTrialSteps: number;
  /** Failed attempts each new trial may spend. */
  failureBudget: number;
  /** How long enqueueing may take before a submit answers `delivery: "pending"`. */
  enqueueTimeoutMs?: number;
  log?: Logger;
}

/** How long an Idempotency-Key holds. */
export const idempotencyTtlMs = 24 * 3600 * 1000;

/** Resolves `p`, or rejects after `ms`: a frozen dependency must not hold a request. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  // Once the race is lost, `p`'s own late failure is expected: not an unhandled rejection.
  p.catch(() => {});
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    }),
  ]);
}

export type SweepContext = ReturnType<typeof sweepContext>;

export function sweepContext(deps: SweepServiceDeps) {
  const d = { ...deps, enqueueTimeoutMs: deps.enqueueTimeoutMs ?? 3000 };
  const { db, queue, enqueueTimeoutMs, log } = d;
  const mustGet = async (sweepId: string, projectId: string) => {
    const s = await getSweep(db, sweepId, projectId);
    if (!s) throw notFound('sweep', sweepId);
    return s;
  };

  /** The answer a repeated Idempotency-Key gets: the first sweep, if the body is the same. */
  const replay = async (projectId: string, key: string, requestHash: string): Promise<SweepCreated | null> => {
    const prior = await findIdempotentSweep(db, projectId, key, idempotencyTtlMs);
    if (!prior) return null;
    if (prior.requestHash !== requestHash)
      throw new ApiError('IDEMPOTENCY_CONFLICT', 'this Idempotency-Key was used with a different body');
    const s = await mustGet(prior.sweepId, projectId);
    const expanded = expandSweep(s.spec as SweepSpec, { maxTrials: Number.MAX_SAFE_INTEGER });
    return {
      id: s.id,
      name: s.name,
      status: 'queued',
      trialCount: s.trialCount,
      configCount: expanded.ok ? expanded.plan.configs.length : 0,
      totalSteps: expanded.ok ? expanded.plan.totalSteps : 0,
      selectedOn: s.selectedOn,
      delivery: (await firstJobQueued(s.id, projectId, s.pool, s.runnerKind)) ? 'queued' : 'pending',
    };
  };

  /** Whether the queue holds (or held) the first trial's job: a replayed submit's delivery. */
  const firstJobQueued = async (sweepId: string, projectId: string, pool: string, runner: 'builtin' | 'external') => {
    const first = await db.trial.findFirst({
      where: { sweepId },
      orderBy: { ordinal: 'asc' },
      select: { jobId: true, status: true },
    });
    if (!first?.jobId || first.status !== 'queued') return true;
    const state = await within(
      queue.jobState({ projectId, pool, runner }, first.jobId),
      enqueueTimeoutMs,
      'reading the queue',
    ).catch(() => 'unknown');
    return state !== 'unknown';
  };

  /** Enqueues a new sweep's trials; false (delivery pending, the reconciler delivers) when the queue cannot take them now. */
  const deliver = async (deliveries: Delivery[]): Promise<boolean> => {
    try {
      await within(queue.enqueueTrials(deliveries), enqueueTimeoutMs, 'enqueueing');
      return true;
    } catch (err) {
      log?.warn(
        { err, trials: deliveries.length },
        'the trial queue is unavailable; the reconciler will deliver the sweep',
      );
      return false;
    }
  };

  return { d, mustGet, replay, deliver };
}
