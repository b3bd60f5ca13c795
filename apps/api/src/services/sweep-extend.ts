// Growing a sweep (SWEEP_API.md v1.1, POST /v1/sweeps/:id/extend): its grid's lists merged with
// the request's, the new trials queued, existing ones never changed.
import { randomUUID } from 'node:crypto';
import { type ExtendSweep, type SweepExtended, type SweepSpec, sweepSpecSchema } from '@lrsweep/contract';
import { findIdempotentSweep, Prisma } from '@lrsweep/db';
import { admitHeldTrials, extendSweep } from '@lrsweep/engine';
import { toSpecIssues } from '@lrsweep/schedules';
import { canonicalJson, expandSweep, planTrials, scheduleKeyOf, sha256 } from '@lrsweep/sweep';
import { ApiError, notFound } from '../errors';
import { idempotencyTtlMs, type SweepContext } from './sweep-context';

/**
 * Grows a sweep (SWEEP_API.md v1.1): each list of `body` is merged with the sweep's, overlaps
 * are ignored, a seed count n means [0 … n−1]; the new trials are queued, existing ones never
 * change. 409 for a cancelled sweep or an Idempotency-Key reused with another body.
 */
export async function extendSweepGrid(
  ctx: SweepContext,
  sweepId: string,
  projectId: string,
  body: ExtendSweep,
  idempotencyKey?: string,
): Promise<SweepExtended> {
  const { d, deliver } = ctx;
  const { db, failureBudget } = d;
  const requestHash = sha256(canonicalJson({ extend: sweepId, body }));
  const replayed = async () => {
    const prior = idempotencyKey ? await findIdempotentSweep(db, projectId, idempotencyKey, idempotencyTtlMs) : null;
    if (!prior) return null;
    if (prior.requestHash !== requestHash || prior.sweepId !== sweepId)
      throw new ApiError('IDEMPOTENCY_CONFLICT', 'this Idempotency-Key was used with a different body');
    return prior.answer as SweepExtended;
  };
  const prior = await replayed();
  if (prior) return prior;
  let grown: Awaited<ReturnType<typeof extendSweep>>;
  try {
    grown = await extendSweep(db, sweepId, projectId, (current) => grownSweep(ctx, sweepId, current, body), {
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
    });
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
}

/**
 * The sweep as `body` grows it (run inside the engine's extend transaction, on the stored sweep):
 * its spec with the merged grid, re-checked, and the plan's configurations and trials.
 */
function grownSweep(
  { d }: SweepContext,
  sweepId: string,
  current: { cancelled: boolean; spec: unknown },
  body: ExtendSweep,
) {
  const { maxTrials, maxTrialSteps } = d;
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
