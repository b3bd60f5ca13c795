import { randomUUID } from 'node:crypto';
import {
  type ExtendSweep,
  type SweepCreated,
  type SweepExtended,
  selectedOnOf,
  type SweepSpec,
  sweepEnded,
  sweepSpecSchema,
} from '@lrsweep/contract';
import { createSweep, type Db, findIdempotentSweep, getSweep, Prisma } from '@lrsweep/db';
import { admitHeldTrials, cancelSweep, deleteSweep, extendSweep, retryFailedTrials } from '@lrsweep/engine';
import { toSpecIssues } from '@lrsweep/schedules';
import type { Delivery, TrialQueue } from '@lrsweep/queue';
import { ashaPlanOf, canonicalJson, expandSweep, planForks, planTrials, scheduleKeyOf, sha256 } from '@lrsweep/sweep';
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
const idempotencyTtlMs = 24 * 3600 * 1000;

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

export function createSweepService({
  db,
  queue,
  maxTrials,
  maxTrialSteps,
  failureBudget,
  enqueueTimeoutMs = 3000,
  log,
}: SweepServiceDeps) {
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

  return {
    /** What a spec would make, or its problems: nothing is stored (the dashboard's live check). */
    validate(spec: SweepSpec) {
      const expanded = expandSweep(spec, { maxTrials, maxTrialSteps });
      if (!expanded.ok) return { valid: false as const, issues: expanded.issues };
      const { plan } = expanded;
      // The forking plan needs the trials' identities, which need a sweep id: any stands in.
      const { summary } = planForks(plan, planTrials(plan, '00000000-0000-0000-0000-000000000000'));
      return {
        valid: true as const,
        trialCount: plan.trialCount,
        configCount: plan.configs.length,
        totalSteps: plan.totalSteps,
        totalUpdates: plan.totalUpdates,
        ...(summary.forks ? { forks: summary } : {}),
        ...(spec.search?.kind === 'asha' ? { asha: ashaPlanOf(spec.search, plan) } : {}),
      };
    },

    /**
     * Expands, stores and enqueues a validated sweep; an invalid one creates nothing. Answers
     * within seconds whatever Redis does: when the queue cannot take the jobs the sweep is stored
     * with `delivery: "pending"` and the reconciler delivers it.
     */
    async submit(
      spec: SweepSpec,
      projectId: string,
      idempotencyKey?: string,
    ): Promise<SweepCreated & { replayed: boolean }> {
      const requestHash = sha256(canonicalJson(spec));
      if (idempotencyKey) {
        const prior = await replay(projectId, idempotencyKey, requestHash);
        if (prior) return { ...prior, replayed: true };
      }
      const expanded = expandSweep(spec, { maxTrials, maxTrialSteps });
      if (!expanded.ok) {
        const message = expanded.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
        throw new ApiError('SPEC_INVALID', message, expanded.issues);
      }
      const { plan } = expanded;
      const id = randomUUID();
      // Forked cooldowns where a horizon axis allows them (new sweeps only: extensions run independently).
      const trials = planForks(plan, planTrials(plan, id)).trials.map((t) => ({ ...t, id: randomUUID() }));
      let deliveries: Delivery[];
      try {
        deliveries = await createSweep(db, {
          id,
          projectId,
          configs: plan.configs.map((c) => ({ ...c, scheduleKey: scheduleKeyOf(c.schedule, c.values, c.horizon) })),
          name: spec.name,
          spec,
          objective: spec.objective,
          totalSteps: plan.totalSteps,
          runnerKind: spec.runner.kind,
          pool: spec.runner.pool,
          ...(spec.priority !== undefined ? { priority: spec.priority } : {}),
          ...(spec.maxParallel !== undefined ? { maxParallel: spec.maxParallel } : {}),
          failureBudget,
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
      const queued = await deliver(deliveries);
      return {
        id,
        name: spec.name,
        status: 'queued',
        trialCount: trials.length,
        configCount: plan.configs.length,
        totalSteps: plan.totalSteps,
        selectedOn: selectedOnOf(spec),
        delivery: queued ? 'queued' : 'pending',
        replayed: false,
      };
    },

    /** Cancels queued and running trials (workers stop within a metric flush); 409 once it has ended. */
    async cancel(sweepId: string, projectId: string) {
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
    },

    /**
     * Deletes the sweep, its trials and their metrics; running trials stop as cancelled ones do,
     * their checkpoints go with the workers' next sweep of the checkpoint folder.
     */
    async remove(sweepId: string, projectId: string) {
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
    },

    /**
     * Grows a sweep (SWEEP_API.md v1.1): each list of `body` is merged with the sweep's, overlaps
     * are ignored, a seed count n means [0 … n−1]; the new trials are queued, existing ones never
     * change. 409 for a cancelled sweep or an Idempotency-Key reused with another body.
     */
    async extend(
      sweepId: string,
      projectId: string,
      body: ExtendSweep,
      idempotencyKey?: string,
    ): Promise<SweepExtended> {
      const requestHash = sha256(canonicalJson({ extend: sweepId, body }));
      const replayed = async () => {
        const prior = idempotencyKey
          ? await findIdempotentSweep(db, projectId, idempotencyKey, idempotencyTtlMs)
          : null;
        if (!prior) return null;
        if (prior.requestHash !== requestHash || prior.sweepId !== sweepId)
          throw new ApiError('IDEMPOTENCY_CONFLICT', 'this Idempotency-Key was used with a different body');
        return prior.answer as SweepExtended;
      };
      const prior = await replayed();
      if (prior) return prior;
      let grown: Awaited<ReturnType<typeof extendSweep>>;
      try {
        grown = await extendSweep(
          db,
          sweepId,
          projectId,
          (current) => {
            if (current.cancelled) throw new ApiError('SWEEP_CANCELLED', 'a cancelled sweep cannot be extended');
            const spec = current.spec as SweepSpec;
            if (spec.search?.kind === 'range_test')
              throw new ApiError(
                'NOT_A_RANGE_TEST',
                'a range test cannot be extended: submit another with the range (search.minLr, search.maxLr) or seeds you want',
              );
            // New configurations would enter rungs already decided: the halving would not be the one planned.
            if (spec.search?.kind === 'asha')
              throw new ApiError(
                'SPEC_INVALID',
                'an ASHA search cannot be extended (its rungs are decided on the configurations it started with): submit another sweep',
                [{ path: 'search.kind', message: 'asha sweeps cannot be extended' }],
              );
            const merged = mergeGrid(spec.grid, body);
            const parsed = sweepSpecSchema.safeParse({ ...spec, grid: merged });
            if (!parsed.success) {
              const issues = toSpecIssues(parsed.error);
              throw new ApiError('SPEC_INVALID', issues.map((i) => `${i.path}: ${i.message}`).join('; '), issues);
            }
            const expanded = expandSweep(parsed.data, { maxTrials, maxTrialSteps });
            if (!expanded.ok)
              throw new ApiError(
                'SPEC_INVALID',
                expanded.issues.map((i) => `${i.path}: ${i.message}`).join('; '),
                expanded.issues,
              );
            const { plan } = expanded;
            return {
              spec: parsed.data,
              configs: plan.configs.map((c) => ({ ...c, scheduleKey: scheduleKeyOf(c.schedule, c.values, c.horizon) })),
              trials: planTrials(plan, sweepId).map((t) => ({ ...t, id: randomUUID() })),
              totalSteps: plan.totalSteps,
            };
          },
          {
            failureBudget,
            ...(idempotencyKey
              ? {
                  idempotency: {
                    key: idempotencyKey,
                    requestHash,
                    answer: (addedTrials: number, trialCount: number) => ({
                      id: sweepId,
                      addedTrials,
                      trialCount,
                      delivery: 'queued',
                    }),
                  },
                }
              : {}),
          },
        );
      } catch (err) {
        if (idempotencyKey && err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
          const again = await replayed();
          if (again) return again;
        }
        throw err;
      }
      if (!grown) throw notFound('sweep', sweepId);
      const deliveries = grown.held ? await admitHeldTrials(db, sweepId) : grown.deliveries;
      const queued = deliveries.length ? await deliver(deliveries) : true;
      return {
        id: sweepId,
        addedTrials: grown.added.length,
        trialCount: grown.trialCount,
        delivery: queued ? 'queued' : 'pending',
      };
    },

    /** Re-runs the sweep's failed trials, and only those, with a fresh failure budget; 409 when none failed. */
    async retry(sweepId: string, projectId: string) {
      const sweep = await mustGet(sweepId, projectId);
      if (sweep.cancelledAt) throw new ApiError('SWEEP_CANCELLED', 'a cancelled sweep cannot be retried');
      const { retried, deliveries } = await retryFailedTrials(db, sweepId);
      if (!retried)
        throw new ApiError('SWEEP_UNCHANGED', 'no trial of the sweep has failed; there is nothing to retry');
      if (deliveries.length) await deliver(deliveries);
      return { retriedTrials: retried, sweep: await mustGet(sweepId, projectId) };
    },
  };
}

/** Values in `a`, then those of `b` not already there (compared as canonical JSON). */
function union<T>(a: readonly T[], b: readonly T[]): T[] {
  const seen = new Set(a.map((x) => canonicalJson(x)));
  return [...a, ...b.filter((x) => !seen.has(canonicalJson(x)) && (seen.add(canonicalJson(x)), true))];
}
const seedList = (s: number | readonly number[]) =>
  typeof s === 'number' ? Array.from({ length: s }, (_, i) => i) : [...s];

/**
 * The sweep's grid grown by `body`: each list merged, overlaps ignored. A trainer axis the sweep
 * does not have is refused: adding one would change every existing trial's configuration.
 */
function mergeGrid(grid: SweepSpec['grid'], body: ExtendSweep): SweepSpec['grid'] {
  const config = grid.config ? { ...grid.config } : undefined;
  for (const [key, values] of Object.entries(body.config ?? {})) {
    if (!config?.[key]) {
      throw new ApiError(
        'SPEC_INVALID',
        `config.${key}: not an axis of this sweep (adding an axis would change its existing trials)`,
        [
          {
            path: `config.${key}`,
            message: 'not an axis of this sweep (adding an axis would change its existing trials)',
          },
        ],
      );
    }
    config[key] = union(config[key]!, values as never[]);
  }
  if (body.horizon && !grid.horizon) {
    const message =
      'not an axis of this sweep: its horizon comes from its epochs (adding a horizon axis would change its existing trials); submit a sweep with grid.horizon to compare budgets';
    throw new ApiError('SPEC_INVALID', `horizon: ${message}`, [{ path: 'horizon', message }]);
  }
  return {
    ...grid,
    ...(grid.horizon ? { horizon: union(grid.horizon, body.horizon ?? []) } : {}),
    baseLr: union(grid.baseLr, body.baseLr ?? []),
    schedule: union(grid.schedule, (body.schedule ?? []) as SweepSpec['grid']['schedule']),
    seeds: body.seeds === undefined ? grid.seeds : union(seedList(grid.seeds), seedList(body.seeds)),
    ...(config ? { config } : {}),
  };
}
