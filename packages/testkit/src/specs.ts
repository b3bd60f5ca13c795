// The sweep most tests start from, so each states only what it is about.

type Fields = Record<string, unknown>;

const tiny = {
  name: 'tiny',
  dataset: { name: 'mnist', trainSize: 200, testSize: 50 },
  model: { kind: 'mlp', hidden: [16] },
  training: { epochs: 1, batchSize: 50, evalEvery: 2 },
  grid: { baseLr: [0.01], schedule: [{ kind: 'constant' }], seeds: 1 },
};

export interface TinySpecOverrides extends Fields {
  name?: string;
  dataset?: Fields;
  model?: Fields;
  training?: Fields;
  grid?: Fields;
}

/**
 * The smallest sweep of the built-in trainer on real MNIST digits: an MLP of 16 units, 200
 * training and 50 test digits, one epoch of 4 updates (batch 50), an evaluation every 2, base LR
 * 0.01, constant, one seed. What `over` gives is merged in:
 * - `dataset`, `training` and `grid` key by key (a dataset of another `name` replaces the MNIST
 *   one whole; a `training.totalSteps` drops the default `epochs`);
 * - `model` whole when it names a `kind`, key by key otherwise;
 * - any other field (runner, search, objective, …) as given.
 */
export function tinySpec(over: TinySpecOverrides = {}) {
  const { dataset, model, training, grid, ...rest } = over;
  const { epochs: _epochs, ...stepsOnly } = tiny.training;
  return {
    ...tiny,
    ...rest,
    dataset:
      dataset?.name !== undefined && dataset.name !== tiny.dataset.name ? dataset : { ...tiny.dataset, ...dataset },
    model: model?.kind !== undefined ? model : { ...tiny.model, ...model },
    training: { ...(training?.totalSteps !== undefined ? stepsOnly : tiny.training), ...training },
    grid: { ...tiny.grid, ...grid },
  };
}
