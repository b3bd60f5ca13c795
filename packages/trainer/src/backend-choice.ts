import { type BackendChoice, type BackendPreference, selectBackend } from './backend';
import type { Dataset } from './datasets';
import { type TrainConfig, train } from './train';

/** What a spec may ask of a trial's backend (`training.backend`). */
export type TrialBackend = 'auto' | 'wasm' | 'tensorflow';

export interface BackendPlan {
  choice: BackendChoice;
  /** Why this one: the spec, the environment, the only one there is, or a probe's timings. */
  reason: string;
  /** The probe's milliseconds per update on each backend, when one ran. */
  probe?: Record<string, number>;
}

const WARMUP = 2;
const TIMED = 4;

/** Milliseconds per update of `cfg` on the active backend, over a few updates of its own data. */
function msPerUpdate(cfg: TrainConfig, data: Dataset): number {
  const times: number[] = [];
  let last = 0;
  train(
    {
      ...cfg,
      training: { ...cfg.training, epochs: 1, evalEvery: 1_000_000, swaFraction: undefined },
      divergenceFactor: undefined,
    },
    data,
    {
      onUpdate: ({ step }) => {
        const now = performance.now();
        if (step >= WARMUP) times.push(now - last);
        last = now;
      },
      shouldStop: () => times.length >= TIMED,
    },
  );
  return times.length ? times.reduce((a, b) => a + b, 0) / times.length : Infinity;
}

/**
 * Chooses each trial's backend. The spec's `training.backend` wins; a worker started with an
 * explicit LRSWEEP_BACKEND uses that one; with `auto` and the native backend present, a quick
 * probe (a few updates of the trial's own model and batch on each backend, once per model shape)
 * picks the faster: native TF is not faster for everything (a small MLP can train faster on
 * lrsweep's SIMD-patched wasm when TF has more threads than work; convnets, the ViT and the gpt
 * train 2–4× faster natively, `pnpm bench:trainer`).
 */
export function createBackendChooser(opts: {
  pref: BackendPreference;
  initial: BackendChoice;
  log?: (msg: string, fields: object) => void;
  /** Test hook: the probe picks this backend whatever it measures (two workers' probes made to disagree). */
  probeWinner?: string;
}) {
  const probed = new Map<string, BackendPlan>();
  const nativePref: BackendPreference = opts.initial.gpu ? 'tensorflow-gpu' : 'tensorflow';
  const activate = (c: BackendChoice) =>
    selectBackend(c.name === 'tensorflow' ? nativePref : (c.name as BackendPreference));
  return async function choose(cfg: TrainConfig, data: Dataset, asked: TrialBackend = 'auto'): Promise<BackendPlan> {
    if (asked === 'wasm')
      return { choice: await selectBackend('wasm'), reason: 'the spec asks for wasm (training.backend)' };
    if (asked === 'tensorflow') {
      if (opts.initial.name !== 'tensorflow') {
        throw new Error(
          'the spec asks for the native backend (training.backend: tensorflow), which this worker does not have: run `pnpm setup:tensorflow` on it, or use a worker that has it',
        );
      }
      return { choice: await activate(opts.initial), reason: 'the spec asks for tensorflow (training.backend)' };
    }
    if (opts.pref !== 'auto') return { choice: await activate(opts.initial), reason: `LRSWEEP_BACKEND=${opts.pref}` };
    if (opts.initial.name !== 'tensorflow')
      return { choice: await activate(opts.initial), reason: 'the only backend this worker has' };
    // A Layers model is built from its files per trial: not probed, it trains natively.
    if (cfg.model.kind === 'layers')
      return { choice: await activate(opts.initial), reason: 'a Layers model: the native backend (not probed)' };
    const key = JSON.stringify([cfg.model, data.shape, data.numClasses, cfg.training.batchSize, cfg.optimizer.kind]);
    const known = probed.get(key);
    if (known) return { ...known, choice: await activate(known.choice) };
    const probe: Record<string, number> = {};
    const candidates: BackendChoice[] = [opts.initial, await selectBackend('wasm')];
    for (const c of candidates) {
      await activate(c);
      probe[c.name] = msPerUpdate(cfg, data);
    }
    const forced = candidates.find((c) => c.name === opts.probeWinner);
    const best = forced ?? candidates.reduce((a, b) => (probe[b.name]! < probe[a.name]! ? b : a));
    const plan: BackendPlan = {
      choice: best,
      reason: `probe (${cfg.model.kind}, batch ${cfg.training.batchSize}): ${candidates.map((c) => `${c.name} ${probe[c.name]!.toFixed(1)} ms/update`).join(', ')}${forced ? ` (${forced.name} forced by a test hook)` : ''}`,
      probe,
    };
    probed.set(key, plan);
    opts.log?.('backend chosen by probe', {
      model: cfg.model.kind,
      batchSize: cfg.training.batchSize,
      ...probe,
      chosen: best.name,
    });
    return { ...plan, choice: await activate(best) };
  };
}
