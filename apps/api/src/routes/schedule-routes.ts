import { errorBodySchema, maxPreviewPoints, maxPreviewSteps, previewAnswer, previewBody } from '@lrsweep/contract';
import { horizonIssues, parseScheduleFor, previewSequence } from '@lrsweep/schedules';
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
        description: `At most ${maxPreviewPoints} points (LTTB). Horizons over ${maxPreviewSteps} updates are first sampled at ${maxPreviewSteps} evenly spaced updates, so a preview's cost is bounded whatever its size.`,
        body: previewBody,
        response: { 200: previewAnswer, 400: errorBodySchema, 401: errorBodySchema },
      },
    },
    async (req) => {
      const { baseLr, totalSteps, metrics, stepsPerEpoch } = req.body;
      const resolved = parseScheduleFor(req.body.schedule, {
        horizon: totalSteps,
        ...(stepsPerEpoch ? { stepsPerEpoch } : {}),
      });
      const issues = resolved.ok ? horizonIssues(resolved.spec, totalSteps) : resolved.issues;
      if (!resolved.ok || issues.length) {
        const located = issues.map((i) => ({ path: i.path ? `schedule.${i.path}` : 'schedule', message: i.message }));
        throw new ApiError('SPEC_INVALID', located.map((i) => `${i.path}: ${i.message}`).join('; '), located);
      }
      const schedule = resolved.spec;
      const evalEvery = metrics?.length
        ? (req.body.evalEvery ?? Math.max(1, Math.floor(totalSteps / metrics.length)))
        : undefined;
      // Bounded work whatever the horizon: at most maxPreviewSteps rates, then LTTB.
      const full = previewSequence(schedule, {
        baseLr,
        totalSteps,
        metrics,
        evalEvery,
        maxSteps: maxPreviewSteps,
        ...(stepsPerEpoch ? { stepsPerEpoch } : {}),
      });
      const d = downsampleSeries(full.steps, full.lr, maxPreviewPoints);
      return { totalSteps, schedule, downsampled: d.x.length < totalSteps, steps: d.x, lr: d.y };
    },
  );
};
