import type { ScheduleInput, ScheduleKind } from './schema';

/**
 * One example spec per kind, as a user would write it. The docs plot them, the tests sweep
 * them, and the dashboard offers them as starting points. Each fits a horizon of 100+ updates.
 */
export const scheduleExamples: Record<ScheduleKind, { spec: ScheduleInput; about: string; reference: string }> = {
  constant: {
    spec: { kind: 'constant' },
    about: 'The base LR throughout: the baseline every schedule must beat.',
    reference: '–',
  },
  step: {
    spec: { kind: 'step', stepSize: 30, gamma: 0.5 },
    about: 'Multiply by `gamma` every `stepSize` updates.',
    reference: 'StepLR',
  },
  multistep: {
    spec: { kind: 'multistep', milestones: [50, 80], gamma: 0.1 },
    about: 'Multiply by `gamma` at each milestone (the classic ResNet recipe).',
    reference: 'MultiStepLR',
  },
  exponential: {
    spec: { kind: 'exponential', gamma: 0.97 },
    about: 'Multiply by `gamma` every update.',
    reference: 'ExponentialLR',
  },
  linear: {
    spec: { kind: 'linear', endFactor: 0 },
    about: 'Straight line from `η·startFactor` to `η·endFactor` over `steps` (default: the horizon).',
    reference: 'LinearLR',
  },
  polynomial: {
    spec: { kind: 'polynomial', power: 2, endFactor: 0.01 },
    about: 'Polynomial decay of the given `power` down to `η·endFactor`.',
    reference: 'PolynomialLR; HF polynomial',
  },
  cosine: {
    spec: { kind: 'cosine', minFactor: 0.05, warmup: { steps: 10 } },
    about: 'Half a cosine from `η` to `η·minFactor`; here with a 10-update linear warmup.',
    reference: 'CosineAnnealingLR; HF cosine',
  },
  cosine_restarts: {
    spec: { kind: 'cosine_restarts', period: 20, periodMult: 2 },
    about: 'Cosine cycles restarting at `η`, each `periodMult` times longer (or `cycles` equal ones).',
    reference: 'CosineAnnealingWarmRestarts; HF hard restarts',
  },
  cyclic: {
    spec: { kind: 'cyclic', minFactor: 0.1, stepSizeUp: 15, stepSizeDown: 10, mode: 'triangular2' },
    about: 'Triangles between `η·minFactor` and `η`; `triangular2` halves each cycle.',
    reference: 'CyclicLR',
  },
  one_cycle: {
    spec: { kind: 'one_cycle', pctStart: 0.3 },
    about: 'Up from `η/divFactor` to `η` over `pctStart` of training, then down to `η/(divFactor·finalDivFactor)`.',
    reference: 'OneCycleLR',
  },
  inverse_sqrt: {
    spec: { kind: 'inverse_sqrt', warmup: { steps: 10 } },
    about: '`η/√((t+τ)/τ)`, τ the warmup length (the Transformer schedule).',
    reference: 'HF inverse_sqrt',
  },
  lr_range: {
    spec: { kind: 'lr_range', startFactor: 0.001 },
    about:
      'The LR range test\'s ramp: geometric from `η·startFactor` up to `η` over the horizon (lrsweep\'s own; `search: { kind: "range_test" }` makes it).',
    reference: 'Smith 2017; fastai lr_find',
  },
  wsd: {
    spec: { kind: 'wsd', decayFraction: 0.2, decayShape: '1-sqrt', warmup: { steps: 10 } },
    about: 'Warmup, stable at `η`, then a short decay (`linear`, `cosine` or `1-sqrt`) at the end.',
    reference: 'HF warmup_stable_decay',
  },
  reduce_on_plateau: {
    spec: { kind: 'reduce_on_plateau', factor: 0.5, patience: 1 },
    about: 'Multiply by `factor` when the watched metric stops improving for `patience` evaluations.',
    reference: 'ReduceLROnPlateau',
  },
  sequential: {
    spec: {
      kind: 'sequential',
      milestones: [20],
      parts: [{ kind: 'linear', startFactor: 0.1, endFactor: 1 }, { kind: 'cosine' }],
    },
    about: 'Parts one after another, each on its own clock from its milestone.',
    reference: 'SequentialLR',
  },
};
