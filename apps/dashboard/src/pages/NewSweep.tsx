import { ApiRequestError, type Preview, type ValidateAnswer } from '@lrsweep/client';
import { useEffect, useMemo, useState } from 'react';
import { errorText, useApi } from '../api';
import { LinePlot } from '../charts/LinePlot';
import { draftKey } from './RangeTestCard';
import { AshaPlan } from './AshaViews';
import { ForkPlan } from './ForkPlan';

const starter = {
  name: 'my-sweep',
  dataset: { name: 'mnist', trainSize: 2000, testSize: 500 },
  model: { kind: 'mlp', hidden: [64] },
  optimizer: { kind: 'adam' },
  training: { epochs: 2, batchSize: 64, evalEvery: 20 },
  grid: {
    baseLr: [0.001, 0.003, 0.01],
    schedule: [{ kind: 'constant' }, { kind: 'cosine', warmup: { steps: 10 } }],
    seeds: 2,
  },
  objective: { metric: 'val_loss', mode: 'min', aggregate: 'final' },
};

type Check =
  | { state: 'idle' | 'checking' }
  | { state: 'json'; message: string }
  | { state: 'invalid'; issues: { path: string; message: string }[] }
  | ({ state: 'valid' } & Omit<Extract<ValidateAnswer, { valid: true }>, 'valid'>);

/** The first schedule a grid entry expands into (the first value of each list). */
function firstVariant(entry: unknown): unknown {
  if (Array.isArray(entry)) return entry.length && Array.isArray(entry[0]) ? entry[0] : entry;
  if (!entry || typeof entry !== 'object') return entry;
  return Object.fromEntries(
    Object.entries(entry).map(([k, v]) => {
      if (k === 'parts' && Array.isArray(v)) return [k, v.map(firstVariant)];
      if (k === 'milestones') return [k, Array.isArray(v) && v.length && Array.isArray(v[0]) ? v[0] : v];
      if (Array.isArray(v)) return [k, v[0]];
      return [k, typeof v === 'object' ? firstVariant(v) : v];
    }),
  );
}

/** A JSON editor with live validation, the trial count before submitting, and a schedule preview. */
export function NewSweep() {
  const api = useApi();
  // A draft handed over by another page (a range test's suggested grid), else the starter.
  const [text, setText] = useState(() => {
    const draft = sessionStorage.getItem(draftKey);
    if (draft) sessionStorage.removeItem(draftKey);
    return draft ?? JSON.stringify(starter, null, 2);
  });
  const [check, setCheck] = useState<Check>({ state: 'idle' });
  const [entry, setEntry] = useState(0);
  const [preview, setPreview] = useState<Preview>();
  const [logLr, setLogLr] = useState(false);
  const previewSeries = useMemo(
    () => (preview ? [{ label: 'lr', x: preview.steps, y: preview.lr, color: '#0072b2' }] : []),
    [preview],
  );
  const [submitError, setSubmitError] = useState<string>();
  const parsed = useMemo(() => {
    try {
      return { ok: true as const, value: JSON.parse(text) as Record<string, any> };
    } catch (e) {
      return { ok: false as const, message: (e as Error).message };
    }
  }, [text]);

  useEffect(() => {
    if (!parsed.ok) return setCheck({ state: 'json', message: parsed.message });
    setCheck({ state: 'checking' });
    const t = setTimeout(() => {
      api
        .validateSweep(parsed.value as never)
        .then((r) => setCheck(r.valid ? { state: 'valid', ...r } : { state: 'invalid', issues: r.issues }))
        .catch((e) =>
          setCheck(
            e instanceof ApiRequestError && e.issues.length
              ? { state: 'invalid', issues: e.issues }
              : { state: 'json', message: errorText(e) },
          ),
        );
    }, 350);
    return () => clearTimeout(t);
  }, [api, parsed]);

  const schedules: unknown[] =
    parsed.ok && Array.isArray(parsed.value.grid?.schedule) ? parsed.value.grid.schedule : [];
  useEffect(() => {
    const raw = schedules[entry];
    const baseLr = parsed.ok && Array.isArray(parsed.value.grid?.baseLr) ? Number(parsed.value.grid.baseLr[0]) : NaN;
    if (!raw || check.state !== 'valid' || !(baseLr > 0)) return setPreview(undefined);
    api
      .previewSchedule({ schedule: firstVariant(raw) as never, baseLr, totalSteps: check.totalSteps })
      .then(setPreview, () => setPreview(undefined));
  }, [api, entry, check, text]);

  const submit = async () => {
    if (!parsed.ok) return;
    setSubmitError(undefined);
    try {
      const created = await api.submitSweep(parsed.value as never);
      location.hash = `#/sweeps/${created.id}`;
    } catch (e) {
      setSubmitError(errorText(e));
      if (e instanceof ApiRequestError && e.issues.length) setCheck({ state: 'invalid', issues: e.issues });
    }
  };

  return (
    <div className="grid2">
      <section className="card">
        <h2>New sweep</h2>
        <textarea
          aria-label="sweep spec (JSON)"
          spellCheck={false}
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
      </section>
      <section className="card">
        <h3>Check</h3>
        <div data-testid="spec-check">
          {check.state === 'checking' && <p className="muted">Checking…</p>}
          {check.state === 'json' && <p className="error">Not valid JSON: {check.message}</p>}
          {check.state === 'invalid' && (
            <ul className="issues">
              {check.issues.map((i) => (
                <li key={i.path + i.message}>
                  <b>{i.path || '(spec)'}</b>: {i.message}
                </li>
              ))}
            </ul>
          )}
          {check.state === 'valid' && (
            <p data-testid="trial-count">
              <b>{check.trialCount}</b> trials ({check.configCount} configurations × seeds),{' '}
              {check.totalUpdates === check.trialCount * check.totalSteps
                ? `${check.totalSteps} updates each`
                : `up to ${check.totalSteps} updates each`}
              , {check.totalUpdates} in all.
            </p>
          )}
          {check.state === 'valid' && check.forks && <ForkPlan forks={check.forks} />}
          {check.state === 'valid' && check.asha && <AshaPlan asha={check.asha} />}
        </div>
        <button type="button" disabled={check.state !== 'valid'} onClick={submit}>
          Submit sweep
        </button>
        {submitError && <p className="error">{submitError}</p>}
        <h3>Schedule preview</h3>
        <div className="toolbar">
          <select aria-label="schedule to preview" value={entry} onChange={(e) => setEntry(Number(e.target.value))}>
            {schedules.map((s, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: the index is the option's identity (grid.schedule[i]).
              <option key={i} value={i}>
                grid.schedule[{i}] {(s as { kind?: string })?.kind ?? ''}
              </option>
            ))}
          </select>
          <span className="muted">at the first base LR, over the trial's horizon</span>
          <label>
            <input type="checkbox" checked={logLr} onChange={(e) => setLogLr(e.target.checked)} /> log LR
          </label>
        </div>
        {preview ? (
          <LinePlot
            testId="preview-plot"
            series={previewSeries}
            logY={logLr}
            xLabel="update"
            yLabel="lr"
            height={200}
          />
        ) : (
          <p className="empty">A valid spec shows its schedules here.</p>
        )}
      </section>
    </div>
  );
}
