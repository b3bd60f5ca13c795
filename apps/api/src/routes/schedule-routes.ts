import { horizonIssues, lrSequence, scheduleSchema } from '@lrsweep/schedules';
import { downsampleSeries } from '@lrsweep/sweep';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ApiError, errorBodySchema } from '../errors';

/** The most points a preview answers with; longer curves are downsampled (LTTB). */
export const maxPreviewPoints = 2000;

export const previewBody = z.strictObject({
  schedule: scheduleSchema,
  baseLr: z.number().positive().max(1e3),
  totalSteps: z.number().int().positive().max(1_000_000),
  /** Evaluation metrics a `reduce_on_plateau` schedule observes, in order. */
  metrics: z.array(z.number()).max(100_000).optional(),
  /** Updates between those evaluations (default: spread the metrics evenly over the horizon). */
  evalEvery: z.number().int().positive().optional(),
});

export const previewAnswer = z
  .object({
    totalSteps: z.number().int(),
    downsampled: z.boolean(),
    steps: z.array(z.number().int()),
    lr: z.array(z.number()),
  })
  .meta({ id: 'SchedulePreview' });

export const scheduleRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/v1/schedules/preview',
    {
      schema: {
        tags: ['schedules'],
        summary: "A schedule's learning rate for every update, before sweeping it",
        body: previewBody,
        response: { 200: previewAnswer, 400: errorBodySchema },
      },
    },
    async (req) => {
      const { schedule, baseLr, totalSteps, metrics } = req.body;
      const late = horizonIssues(schedule, totalSteps, ['schedule']);
      if (late.length) throw new ApiError(400, 'SPEC_INVALID', late.map((i) => `${i.path}: ${i.message}`).join('; '), late);
      const evalEvery = metrics?.length ? (req.body.evalEvery ?? Math.max(1, Math.floor(totalSteps / metrics.length))) : undefined;
      const lr = lrSequence(schedule, { baseLr, totalSteps, metrics, evalEvery: evalEvery ?? 1 });
      const steps = lr.map((_, t) => t);
      const d = downsampleSeries(steps, lr, maxPreviewPoints);
      return { totalSteps, downsampled: d.x.length < lr.length, steps: d.x, lr: d.y };
    },
  );
};
