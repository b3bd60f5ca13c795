/**
 * The API's request and answer types, derived from the zod schemas the routes validate and
 * serialize with. Clients import these types only (`import type`), so a changed route breaks
 * their build instead of their users.
 */
import type { sweepSpecSchema } from '@lrsweep/sweep';
import type { z } from 'zod';
import type { tokenView } from './routes/admin-routes';
import type { previewAnswer, previewBody } from './routes/schedule-routes';
import type {
  curvesAnswer,
  metricsSchema,
  resultsAnswer,
  schedulesAnswer,
  sweepCreatedSchema,
  sweepDetailSchema,
  sweepSummarySchema,
  trialSchema,
} from './schemas';

export type SweepSpecInput = z.input<typeof sweepSpecSchema>;
export type SweepCreated = z.output<typeof sweepCreatedSchema>;
export type SweepSummary = z.output<typeof sweepSummarySchema>;
export type SweepDetail = z.output<typeof sweepDetailSchema>;
export type SweepPage = { sweeps: SweepSummary[]; total: number; limit: number; offset: number };
export type Trial = z.output<typeof trialSchema>;
export type TrialPage = { trials: Trial[]; total: number; limit: number; offset: number };
export type TrialMetrics = z.output<typeof metricsSchema>;
export type Results = z.output<typeof resultsAnswer>;
export type RankingRow = Results['ranking'][number];
export type ScheduleAnalysis = z.output<typeof schedulesAnswer>;
export type Curves = z.output<typeof curvesAnswer>;
export type PreviewRequest = z.input<typeof previewBody>;
export type Preview = z.output<typeof previewAnswer>;
export type TokenView = z.output<typeof tokenView>;
export type CreatedToken = TokenView & { token: string };
export type CancelAnswer = { cancelledTrials: number; sweep: SweepSummary };
export type RetryAnswer = { retriedTrials: number; sweep: SweepSummary };
export type ApiErrorBody = { code: string; message: string; issues?: { path: string; message: string }[] };
export type MetricName = Results['objective']['metric'];
export type Aggregate = Results['objective']['aggregate'];
