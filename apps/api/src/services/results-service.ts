// The results' use cases, one file each: the ranking (results-ranking.ts), the verdict
// (results-verdict.ts), the curves (results-curves.ts) and a range test's answer
// (results-range-test.ts). This file gives the routes one object with them.
import type { MetricName } from '@lrsweep/contract';
import { curves } from './results-curves';
import { rangeTest } from './results-range-test';
import { type ResultQuery, type ResultsDeps, rankingOf } from './results-ranking';
import { verdict } from './results-verdict';

export type { ResultQuery } from './results-ranking';

export function createResultsService(deps: ResultsDeps) {
  return {
    /** The ranking as GET /results answers it. */
    async ranking(sweepId: string, projectId: string, q: ResultQuery) {
      const { familyOf: _families, ...answer } = await rankingOf(deps, sweepId, projectId, q);
      return answer;
    },
    rangeTest: (sweepId: string, projectId: string) => rangeTest(deps, sweepId, projectId),
    schedules: (sweepId: string, projectId: string, q: ResultQuery & { tolerance: number; alpha: number }) =>
      verdict(deps, sweepId, projectId, q),
    curves: (sweepId: string, projectId: string, q: { metric: MetricName; configs?: string[]; points: number }) =>
      curves(deps, sweepId, projectId, q),
  };
}
export type ResultsService = ReturnType<typeof createResultsService>;
