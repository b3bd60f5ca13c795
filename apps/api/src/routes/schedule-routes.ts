import { errorBodySchema, maxPreviewPoints, previewAnswer, previewBody } from '@lrsweep/contract';
import { horizonIssues, lrSequence } from '@lrsweep/schedules';
import { downsampleSeries } from '@lrsweep/sweep';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiError } from '../errors';

export const scheduleRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/schedules/preview',
    {
      schema: {
        tags: ['schedules'],
        summary: "A schedule's learning rate for every update, before sweeping it",
        body: previewBody,
        response: { 200: previewAnswer, 400: errorBodySchema, 401: errorBodySchema },
      },
    },
    async (req) => {
      const { schedule, baseLr, totalSteps, metrics } = req.body;
      const late = horizonIssues(schedule, totalSteps, ['schedule']);
      if (late.length) throw new ApiError('SPEC_INVALID', late.map((i) => `${i.path}: ${i.message}`).join('; '), late);
      const evalEvery = metrics?.length ? (req.body.evalEvery ?? Math.max(1, Math.floor(totalSteps / metrics.length))) : undefined;
      const lr = lrSequence(schedule, { baseLr, totalSteps, metrics, evalEvery: evalEvery ?? 1 });
      const steps = lr.map((_, t) => t);
      const d = downsampleSeries(steps, lr, maxPreviewPoints);
      return { totalSteps, downsampled: d.x.length < lr.length, steps: d.x, lr: d.y };
    },
  );
};
