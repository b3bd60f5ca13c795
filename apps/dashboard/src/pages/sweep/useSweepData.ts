// What the sweep page shows, loaded: the sweep (polled while it runs), its results, verdict and
// trials (reloaded whenever its trial counts move), and the curves of the configurations followed.
import {
  type Curves,
  type MetricName,
  type Results,
  type ScheduleAnalysis,
  type SweepDetail,
  sweepEnded,
  type TrialPage,
} from '@lrsweep/client';
import { useEffect, useMemo, useState } from 'react';
import { errorText, useApi, usePolling } from '../../api';

export const running = (s: SweepDetail) => !sweepEnded(s.status);
/** How many of the best configurations the curves follow until the user picks some. */
export const followTop = 5;

export function useSweepData(id: string, generation: number, onError: (message: string) => void) {
  const api = useApi();
  const sweep = usePolling(() => api.getSweep(id), [api, id, generation], { everyMs: 1000, live: running });
  // Everything else reloads whenever the trial counts move.
  const version = JSON.stringify(sweep.data?.counts ?? null);
  const [results, setResults] = useState<Results>();
  const [analysis, setAnalysis] = useState<ScheduleAnalysis>();
  const [trials, setTrials] = useState<TrialPage>();
  useEffect(() => {
    if (!sweep.data) return;
    Promise.all([api.results(id), api.schedules(id), api.listTrials(id, { limit: 500 })])
      .then(([r, a, t]) => {
        setResults(r);
        setAnalysis(a);
        setTrials(t);
      })
      .catch((e) => onError(errorText(e)));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, id, version]);
  const objective =
    results?.objective.metric ?? (sweep.data?.objective as { metric?: MetricName } | undefined)?.metric ?? 'val_loss';
  return { sweep, version, results, analysis, trials, objective, mode: results?.objective.mode ?? 'min' };
}

/**
 * The configurations whose curves are shown (the current top ones until the user picks) and
 * their curves for `metric`.
 */
export function useFollowedCurves(
  id: string,
  results: Results | undefined,
  metric: MetricName,
  version: string,
  onError: (message: string) => void,
) {
  const api = useApi();
  // null: follow the current top configurations; a set once the user picks.
  const [picked, setPicked] = useState<Set<string> | null>(null);
  const [curves, setCurves] = useState<Curves>();
  const topIds = useMemo(
    () =>
      (results?.ranking ?? [])
        .filter((r) => r.mean !== null)
        .slice(0, followTop)
        .map((r) => r.configId),
    [results],
  );
  const configs = useMemo(() => (picked ? [...picked] : topIds), [picked, topIds]);
  const configKey = configs.join(',');
  useEffect(() => {
    if (!configs.length) return setCurves(undefined);
    api.curves(id, { metric, configs, points: 400 }).then(setCurves, (e) => onError(errorText(e)));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, id, metric, configKey, version]);
  const toggle = (configId: string) =>
    setPicked((cur) => {
      const n = new Set(cur ?? configs);
      if (n.has(configId)) n.delete(configId);
      else n.add(configId);
      return n;
    });
  return { curves, configs, picked: picked !== null, toggle, followTop: () => setPicked(null) };
}
