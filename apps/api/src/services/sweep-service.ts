import { randomUUID } from 'node:crypto';
import { createSweep, type Db, getSweep, trialOutcomes } from '@lrsweep/db';
import type { TrialQueue } from '@lrsweep/queue';
import {
  expandSweep,
  type Objective,
  planTrials,
  rankConfigurations,
  type SweepSpec,
  type TrialConfig,
  type TrialOutcome,
} from '@lrsweep/sweep';
import { ApiError, notFound } from '../errors';

export interface SweepServiceDeps {
  db: Db;
  queue: TrialQueue;
  maxTrials: number;
}

export function createSweepService({ db, queue, maxTrials }: SweepServiceDeps) {
  return {
    /** Expands, stores and enqueues a validated sweep; an invalid one creates nothing. */
    async submit(spec: SweepSpec) {
      const expanded = expandSweep(spec, { maxTrials });
      if (!expanded.ok) {
        const message = expanded.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
        throw new ApiError(400, 'SPEC_INVALID', message, expanded.issues);
      }
      const { plan } = expanded;
      const id = randomUUID();
      const trials = planTrials(plan, id).map((t) => ({ ...t, id: randomUUID() }));
      await createSweep(db, { id, name: spec.name, spec, objective: spec.objective, totalSteps: plan.totalSteps, trials });
      try {
        await queue.enqueueTrials(trials.map((t) => ({ trialId: t.id, sweepId: id })));
      } catch (err) {
        // Without a queue nobody would run it: take the sweep back rather than leave it stranded.
        await db.sweep.delete({ where: { id } }).catch(() => {});
        throw new ApiError(503, 'QUEUE_UNAVAILABLE', `the trial queue is unavailable: ${(err as Error).message}`);
      }
      return {
        id,
        name: spec.name,
        status: 'queued' as const,
        trialCount: trials.length,
        configCount: plan.configs.length,
        totalSteps: plan.totalSteps,
      };
    },

    /** The contract's ranking: one row per configuration, seeds pooled, best first. */
    async results(sweepId: string) {
      const sweep = await getSweep(db, sweepId);
      if (!sweep) throw notFound('sweep', sweepId);
      const objective = sweep.objective as Objective;
      const trials = await trialOutcomes(db, sweepId);
      const outcomes: TrialOutcome[] = trials.map((t) => {
        const c = t.config as unknown as TrialConfig;
        return { configId: t.configId, baseLr: c.baseLr, schedule: c.schedule, status: t.status, value: objectiveValue(t, objective) };
      });
      return {
        objective,
        provisional: sweep.status === 'queued' || sweep.status === 'running',
        ranking: rankConfigurations(outcomes, objective.mode),
      };
    },
  };
}

type Summary = Awaited<ReturnType<typeof trialOutcomes>>[number];

/** A trial's objective from its summary columns (no metric table is read). */
export function objectiveValue(t: Summary, o: Objective): number | null {
  if (o.metric === 'train_loss') return t.finalTrainLoss;
  if (o.metric === 'val_acc') return o.aggregate === 'best' ? t.bestValAcc : t.finalValAcc;
  return o.aggregate === 'best' ? t.bestValLoss : t.finalValLoss;
}
