// `pnpm bench:transfer [--quick]`: does the best base LR move with width and with training length,
// and how well does a small sweep predict it? An MLP on MNIST with Adam (wasm unless
// LRSWEEP_BACKEND says otherwise), trained in-process exactly as a worker trains a trial of the
// same spec (expandSweep → planTrials → trainConfigOf → train), then analysed by the same
// analyzeTransfer the API's GET /v1/sweeps/:id/transfer answers with. Prints one JSON line.
//
// Width: hidden 128 × grid.scale 0.5 … 8 (widths 64 … 1024) × 6 base LRs × 3 schedules × 2 seeds,
// 120 updates, under the standard parametrization and again under μP (model.parametrization
// 'mup', base width 128: scale 1). Length: width 128, horizons 60 / 120 / 240 updates × the same
// LRs and schedules, standard.
import { type SweepSpecInput, sweepSpecSchema } from '@lrsweep/contract';
import { analyzeTransfer, type BuiltinTrialConfig, expandSweep, planTrials, type TransferTrial } from '@lrsweep/sweep';
import { describeSchedule } from '@lrsweep/schedules';
import { loadDataset, selectBackend, train } from '@lrsweep/trainer';
import { trainConfigOf } from '../apps/worker/src/train-config';

const quick = process.argv.includes('--quick');
const base = {
  dataset: { name: 'mnist', trainSize: 2200, validationSize: 200, testSize: 100 },
  model: { kind: 'mlp', hidden: [128] },
  optimizer: { kind: 'adam' },
  training: { epochs: 3, batchSize: 50, evalEvery: 20 },
} as const;
const lrs = [3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1];
const schedules = quick
  ? [{ kind: 'constant' }, { kind: 'cosine' }]
  : [{ kind: 'constant' }, { kind: 'cosine' }, { kind: 'linear' }];
const seeds = quick ? 1 : 2;
const widthSpec: SweepSpecInput = {
  ...base,
  name: 'bench-transfer-width',
  grid: { baseLr: lrs, schedule: schedules, seeds, scale: quick ? [0.5, 1, 2] : [0.5, 1, 2, 4, 8] },
  transfer: { width: { from: 'grid.scale' }, target: { width: 16 } },
} as unknown as SweepSpecInput;
const mupWidthSpec: SweepSpecInput = {
  ...widthSpec,
  name: 'bench-transfer-width-mup',
  model: { ...base.model, parametrization: 'mup' },
} as unknown as SweepSpecInput;
const lengthSpec: SweepSpecInput = {
  ...base,
  name: 'bench-transfer-length',
  grid: { baseLr: lrs, schedule: schedules, seeds, horizon: [60, 120, 240] },
  transfer: { length: { from: 'grid.horizon' }, target: { steps: 960 } },
} as unknown as SweepSpecInput;

/** Trains every trial of a spec in-process; the rows analyzeTransfer reads (as the API's query gives them). */
async function run(spec: SweepSpecInput, say: (s: string) => void): Promise<TransferTrial[]> {
  const parsed = sweepSpecSchema.parse(spec);
  const expanded = expandSweep(parsed, { maxTrials: 10_000 });
  if (!expanded.ok) throw new Error(JSON.stringify(expanded.issues));
  const trials = planTrials(expanded.plan, spec.name);
  const data = loadDataset((trials[0]!.config as BuiltinTrialConfig).dataset);
  const out: TransferTrial[] = [];
  const t0 = performance.now();
  for (const [i, t] of trials.entries()) {
    const c = t.config as BuiltinTrialConfig;
    const r = train(trainConfigOf(c), data, {});
    const scale = c.values?.scale;
    out.push({
      scheduleKey: JSON.stringify(c.schedule.kind),
      schedule: describeSchedule({ kind: c.schedule.kind } as never),
      lr: c.baseLr,
      width: typeof scale === 'number' ? scale : null,
      steps: c.horizon ?? null,
      seed: c.seed,
      status: r.status === 'diverged' ? 'diverged' : 'completed',
      value: r.status === 'diverged' ? null : r.finalValLoss,
    });
    if ((i + 1) % 10 === 0 || i + 1 === trials.length)
      say(`${spec.name}: ${i + 1}/${trials.length} trials in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  return out;
}

/** How far η* moved from the smallest to the largest scale, in steps of the LR grid (×3 each). */
function moved(
  optima: { schedule: string; lr: number; width: number | null; steps: number | null }[],
  axis: 'width' | 'steps',
) {
  const step = Math.log10(3);
  const by = new Map<string, { x: number; lr: number }[]>();
  for (const o of optima) by.set(o.schedule, [...(by.get(o.schedule) ?? []), { x: o[axis]!, lr: o.lr }]);
  return Object.fromEntries(
    [...by].map(([s, ps]) => {
      const sorted = ps.sort((a, b) => a.x - b.x);
      return [s, Number((Math.log10(sorted.at(-1)!.lr / sorted[0]!.lr) / step).toFixed(2))];
    }),
  );
}

const round = (x: number, d = 4) => Number(x.toPrecision(d));

async function main() {
  const backend = await selectBackend((process.env.LRSWEEP_BACKEND as 'wasm' | 'tensorflow' | undefined) ?? 'wasm');
  const say = (s: string) => process.stderr.write(`bench:transfer: ${s}\n`);
  const t0 = performance.now();
  const widthOf = async (spec: SweepSpecInput, parametrization: 'standard' | 'mup') =>
    analyzeTransfer(await run(spec, say), { mode: 'min', width: { baseWidth: 1, target: 16 }, parametrization });
  const width = await widthOf(widthSpec, 'standard');
  const mupWidth = await widthOf(mupWidthSpec, 'mup');
  const length = analyzeTransfer(await run(lengthSpec, say), {
    mode: 'min',
    length: { target: 960 },
    parametrization: 'standard',
  });
  const laws = (a: typeof width) =>
    a.laws.map((l) => ({
      schedule: l.schedule,
      b: round(l.b, 3),
      bInterval: l.bInterval.map((x) => round(x, 3)),
      atTarget: l.target
        ? { scale: l.target.scale, lr: round(l.target.lr), interval: l.target.interval.map((x) => round(x)) }
        : null,
    }));
  const widthReport = (a: typeof width) => ({
    widths: [...new Set(a.optima.map((o) => 128 * o.width!))].sort((x, y) => x - y),
    etaStar: a.optima.map((o) => ({ schedule: o.schedule, width: 128 * o.width!, lr: round(o.lr), flags: o.flags })),
    laws: laws(a),
    movedGridSteps: moved(a.optima, 'width'),
    winner: a.winner?.statement ?? null,
    warnings: a.warnings,
  });
  console.log(
    JSON.stringify({
      bench: 'transfer',
      backend: backend?.name ?? 'wasm',
      quick,
      standard: {
        width: widthReport(width),
        length: {
          horizons: [60, 120, 240],
          etaStar: length.optima.map((o) => ({
            schedule: o.schedule,
            steps: o.steps,
            lr: round(o.lr),
            flags: o.flags,
          })),
          laws: laws(length),
          movedGridSteps: moved(length.optima, 'steps'),
          winner: length.winner?.statement ?? null,
          warnings: length.warnings,
        },
      },
      mup: { width: widthReport(mupWidth) },
      seconds: Math.round((performance.now() - t0) / 1000),
    }),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
