// `pnpm bench:search [--quick]`: search quality of ASHA with annealed rungs against the full grid
// it searches, and against ASHA judging raw losses at the same rungs, on MNIST with an MLP and Adam
// (wasm, tiny shapes). Prints one JSON line.
//
// The full grid (4 schedules × 5 base LRs × 6 seeds, T = 270 updates) runs first; its winner is the
// best mean final val_loss over the 6 seeds, and a configuration is "significantly worse" when a
// paired t-test over those seeds says so (α 0.05). Then ASHA (η 3, rungs 30/90/270) is run on every
// subset of 3 of the 6 seeds (20 repeated runs), with rungMetric annealed and raw, and picks the best
// configuration that reached the horizon (by its seeds' mean), as the results endpoint would.
//
// How the runs share work: training is deterministic (a run paused at a rung and resumed from its
// checkpoint is bit-identical to one that never paused: asha-rung.test.ts, test/asha.test.ts), so
// an ASHA trial's first b updates are the grid trial's. Each (configuration, seed) therefore
// trains once, through the same pause → judge → resume path the worker takes (train() with the
// rung options of nextRungOf), recording its annealed estimate at each rung and its raw
// validation loss there; ASHA's decisions for each repeated run are then ashaDecide's (the
// function the store calls) on those values, and its cost the updates its trials would train
// (to the rung each stopped at, or T, plus every annealed estimate's cooldown).
import { ashaRungs, type SweepSpecInput, sweepSpecSchema } from '@lrsweep/contract';
import {
  type AshaTrial,
  ashaDecide,
  type BuiltinTrialConfig,
  expandSweep,
  nextRungOf,
  pairedTest,
  planTrials,
} from '@lrsweep/sweep';
import { loadDataset, selectBackend, train, type TrainerState } from '@lrsweep/trainer';
import { trainConfigOf } from '../apps/worker/src/train-config';

const quick = process.argv.includes('--quick');
const SEEDS = quick ? 4 : 6;
/** Seeds of each repeated ASHA run (every subset of this size of the grid's seeds is one run). */
const PER_RUN = quick ? 2 : 3;
const spec: SweepSpecInput = {
  name: 'bench-search',
  // 1350 training samples, batch 50: 27 updates an epoch; 10 epochs, T = 270. A validation split
  // of 1000 keeps the evaluations' own noise below the seeds'.
  dataset: { name: 'mnist', trainSize: 2350, validationSize: 1000, testSize: 200 },
  model: { kind: 'mlp', hidden: [64] },
  optimizer: { kind: 'adam' },
  training: { epochs: 10, batchSize: 50, evalEvery: 30 },
  grid: {
    baseLr: [0.0003, 0.001, 0.003, 0.01, 0.03],
    schedule: [
      { kind: 'constant' },
      { kind: 'cosine' },
      { kind: 'linear' },
      { kind: 'wsd', decayFraction: 0.2, decayShape: '1-sqrt' },
    ],
    seeds: SEEDS,
  },
  search: { kind: 'asha', reduction: 3, minBudget: 30 },
};

interface TrialRun {
  configId: string;
  label: string;
  seed: number;
  /** Final val_loss at T (null: diverged). */
  final: number | null;
  /** The update it diverged at (null: it did not). */
  divergedAt: number | null;
  /** Per rung below T: the annealed estimate, the raw val_loss, and the estimate's cooldown updates. */
  annealed: (number | null)[];
  raw: (number | null)[];
  cooldown: number[];
}

/** Trains one (configuration, seed) the way an ASHA trial that is always promoted would: pause at each rung, be judged, resume. */
function runTrial(
  c: BuiltinTrialConfig,
  data: ReturnType<typeof loadDataset>,
): Omit<TrialRun, 'configId' | 'label' | 'seed'> {
  const cfg = trainConfigOf(c);
  const out = {
    final: null as number | null,
    divergedAt: null as number | null,
    annealed: [] as (number | null)[],
    raw: [] as (number | null)[],
    cooldown: [] as number[],
  };
  const evals = new Map<number, number>();
  let resume: TrainerState | undefined;
  for (let k = 0; ; k++) {
    const rung = nextRungOf(c.asha!, k);
    let last: TrainerState | undefined;
    const r = train(
      cfg,
      data,
      { onEval: (e) => evals.set(e.step, e.valLoss), onCheckpoint: (s) => (last = s) },
      { ...(resume ? { resume } : {}), ...(rung ? { rung } : {}) },
    );
    if (r.status === 'diverged') {
      out.divergedAt = r.divergedAtStep;
      return out;
    }
    if (r.status === 'completed') {
      out.final = r.finalValLoss;
      return out;
    }
    // Paused at the rung: evalEvery divides the rungs, so the raw loss there is the run's own evaluation.
    out.annealed.push(r.rung!.value);
    out.raw.push(evals.get(rung!.step) ?? null);
    out.cooldown.push(r.rung!.cooldownSteps);
    resume = last;
  }
}

/** One ASHA run on a subset of the seeds: what it picks and the updates it trains. */
function ashaRun(runs: TrialRun[], seeds: number[], metric: 'annealed' | 'raw', rungs: number[], reduction: number) {
  const T = rungs.at(-1)!;
  const below = rungs.length - 1;
  const mine = runs.filter((r) => seeds.includes(r.seed));
  const trials: (AshaTrial & { run: TrialRun })[] = mine.map((run, i) => ({
    id: String(i),
    config: run.configId,
    status: 'running',
    waiting: false,
    values: [],
    run,
  }));
  for (let changed = true; changed; ) {
    changed = false;
    for (const t of trials.filter((t) => t.status === 'running' && !t.waiting)) {
      changed = true;
      const k = t.values.length;
      const reach = k < below ? rungs[k]! : T;
      if (t.run.divergedAt !== null && t.run.divergedAt < reach) t.status = 'diverged';
      else if (k === below) t.status = 'completed';
      else {
        t.values.push((metric === 'annealed' ? t.run.annealed[k] : t.run.raw[k]) ?? Infinity);
        t.waiting = true;
      }
    }
    const d = ashaDecide(trials, { reduction, rungs: below, mode: 'min' });
    for (const id of d.promote) trials[Number(id)]!.waiting = false;
    for (const p of d.prune) trials[Number(p.id)]!.status = 'pruned';
    if (d.promote.length || d.prune.length) changed = true;
  }
  // Updates: each trial to where it stopped, and (annealed) every estimate it made.
  let updates = 0;
  for (const t of trials) {
    const reached = t.values.length;
    if (t.status === 'completed') updates += T;
    else if (t.status === 'diverged') updates += t.run.divergedAt! + 1;
    else updates += rungs[reached - 1]!;
    if (metric === 'annealed') updates += t.run.cooldown.slice(0, reached).reduce((a, b) => a + b, 0);
  }
  const finals = new Map<string, number[]>();
  for (const t of trials.filter((t) => t.status === 'completed'))
    finals.set(t.config, [...(finals.get(t.config) ?? []), t.run.final!]);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const pick = [...finals].sort((a, b) => mean(a[1]) - mean(b[1]))[0]?.[0] ?? null;
  return { pick, updates };
}

async function main() {
  await selectBackend('wasm');
  const parsed = sweepSpecSchema.parse(spec);
  const expanded = expandSweep(parsed, { maxTrials: 10_000 });
  if (!expanded.ok) throw new Error(JSON.stringify(expanded.issues));
  const plan = expanded.plan;
  const trials = planTrials(plan, 'bench-search');
  const data = loadDataset((trials[0]!.config as BuiltinTrialConfig).dataset);
  const labels = new Map(plan.configs.map((c) => [c.configId, `${c.schedule.kind} @ ${c.baseLr}`]));
  const t0 = performance.now();
  const runs: TrialRun[] = [];
  for (const [i, t] of trials.entries()) {
    const c = t.config as BuiltinTrialConfig;
    runs.push({ configId: t.configId, label: labels.get(t.configId)!, seed: c.seed, ...runTrial(c, data) });
    if ((i + 1) % 20 === 0)
      process.stderr.write(
        `bench:search: trained ${i + 1}/${trials.length} (configuration, seed) runs in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`,
      );
  }
  const T = plan.totalSteps;
  const search = parsed.search as Extract<typeof parsed.search, { kind: 'asha' }>;
  const rungs = ashaRungs(search.minBudget, T, search.reduction);

  // The full grid's answer, over all seeds.
  const byConfig = new Map<string, TrialRun[]>();
  for (const r of runs) byConfig.set(r.configId, [...(byConfig.get(r.configId) ?? []), r]);
  const finalsOf = (id: string) =>
    byConfig
      .get(id)!
      .sort((a, b) => a.seed - b.seed)
      .map((r) => r.final ?? Infinity);
  const meanOf = (id: string) => finalsOf(id).reduce((a, b) => a + b, 0) / SEEDS;
  const ranked = [...byConfig.keys()].sort((a, b) => meanOf(a) - meanOf(b));
  const winner = ranked[0]!;
  const worse = (id: string) => {
    if (id === winner) return false;
    if (!Number.isFinite(meanOf(id))) return true;
    const t = pairedTest(finalsOf(id), finalsOf(winner));
    return t !== null && t.p < 0.05 && meanOf(id) > meanOf(winner);
  };
  const gridUpdates = plan.totalUpdates;

  // ASHA on every subset of PER_RUN seeds, annealed and raw.
  const subsets = (from: number, k: number): number[][] =>
    k === 0
      ? [[]]
      : from >= SEEDS
        ? []
        : [...subsets(from + 1, k - 1).map((s) => [from, ...s]), ...subsets(from + 1, k)];
  const pairs = subsets(0, PER_RUN);
  const report = (metric: 'annealed' | 'raw') => {
    const rs = pairs.map((seeds) => ashaRun(runs, seeds, metric, rungs, search.reduction));
    const gridOfPair = PER_RUN * plan.configs.length * T;
    const fraction = Math.max(...rs.map((r) => r.updates / gridOfPair));
    const picks = rs.map((r) => r.pick);
    return {
      rungMetric: metric,
      runs: rs.length,
      updatesFraction: Number(fraction.toFixed(4)),
      pickedWinner: picks.filter((p) => p === winner).length,
      pickedNotSignificantlyWorse: picks.filter((p) => p !== null && !worse(p)).length,
      pickedSignificantlyWorse: picks.filter((p) => p === null || worse(p)).length,
      picks: Object.fromEntries(
        [...new Set(picks)].map((p) => [p === null ? 'none' : labels.get(p)!, picks.filter((x) => x === p).length]),
      ),
    };
  };
  const annealed = report('annealed');
  const raw = report('raw');
  console.log(
    JSON.stringify({
      bench: 'search',
      backend: 'wasm',
      grid: {
        configurations: plan.configs.length,
        seeds: SEEDS,
        horizon: T,
        updates: gridUpdates,
        winner: labels.get(winner),
        winnerValLoss: Number(meanOf(winner).toFixed(5)),
        notSignificantlyWorse: ranked.filter((id) => !worse(id)).map((id) => labels.get(id)),
      },
      asha: { reduction: search.reduction, rungs, cooldown: search.cooldown, seedsPerRun: PER_RUN },
      annealed,
      raw,
      target: {
        annealedFindsWinnerOrEquivalent: annealed.pickedSignificantlyWorse === 0,
        annealedWithin40PercentOfGrid: annealed.updatesFraction <= 0.4,
      },
      seconds: Math.round((performance.now() - t0) / 1000),
    }),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
