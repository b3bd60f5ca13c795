// Forked cooldowns (the schedule-aware search issue) rest on one property of the trainer: a run at
// horizon H resumed from a longer run's checkpoint at H's decay start is bit-identical to an
// independent run at H (the data order runs on across epochs, the RNG stream and dropout masks
// depend on the seed and the update only). Checked for every model kind, on tiny shapes and wasm.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Dataset,
  type EvalRecord,
  loadDataset,
  selectBackend,
  synthetic,
  type TrainConfig,
  type TrainerState,
  train,
  type UpdateRecord,
} from './index';

beforeAll(async () => {
  await selectBackend('wasm');
});

const text = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'lrsweep-fork-'));
  const words = ['the', 'rate', 'decays', 'to', 'zero', 'after', 'a', 'stable', 'phase', 'and'];
  let s = '';
  for (let i = 0; s.length < 6000; i++) s += `${words[(i * 7 + (i >> 3)) % words.length]} `;
  writeFileSync(join(dir, 'tiny.txt'), s);
  return join(dir, 'tiny.txt');
})();

// 128 training samples, batch 16: 8 updates an epoch, so every horizon crosses epoch boundaries.
const kinds: [string, TrainConfig['model'], () => Dataset][] = [
  [
    'mlp (dropout)',
    { kind: 'mlp', hidden: [16], activation: 'relu', dropout: 0.2 },
    () => synthetic({ trainSize: 128, testSize: 32 }),
  ],
  [
    'lenet',
    { kind: 'lenet', activation: 'sigmoid', pool: 'avg' },
    () => loadDataset({ name: 'mnist', trainSize: 128 + 32, validationSize: 32, testSize: 32 }),
  ],
  ['cnn', { kind: 'cnn', channels: [4], batchNorm: true }, () => synthetic({ trainSize: 128, testSize: 32 })],
  [
    'vit',
    { kind: 'vit', patchSize: 2, width: 8, depth: 1, heads: 2, mlpRatio: 2 },
    () => synthetic({ trainSize: 128, testSize: 32 }),
  ],
  [
    'gpt',
    { kind: 'gpt', width: 8, depth: 1, heads: 2, mlpRatio: 2 },
    () =>
      loadDataset({
        name: 'text',
        path: text,
        contextLength: 8,
        trainSize: 128 + 16,
        validationSize: 16,
        testSize: 16,
      }),
  ],
];

const cfg = (model: TrainConfig['model'], horizon: number): TrainConfig => ({
  model,
  optimizer: { kind: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 },
  training: { epochs: 1, batchSize: 16, evalEvery: 5, gradClipNorm: 1, totalSteps: horizon },
  baseLr: 0.003,
  // Decay over the last 20% of the part after a 3-update warmup: at T=20 from update 17, at T=30 from 25.
  schedule: {
    kind: 'wsd',
    decayFraction: 0.2,
    decayShape: '1-sqrt',
    minFactor: 0,
    warmup: { steps: 3, startFactor: 0.1 },
  },
  seed: 11,
});

function run(c: TrainConfig, d: Dataset, opts: Parameters<typeof train>[3] = {}) {
  const updates: UpdateRecord[] = [];
  const evals: EvalRecord[] = [];
  const checkpoints: TrainerState[] = [];
  const result = train(
    c,
    d,
    { onUpdate: (u) => updates.push(u), onEval: (e) => evals.push(e), onCheckpoint: (s) => checkpoints.push(s) },
    opts,
  );
  return { updates, evals, checkpoints, result };
}

describe('a fork from a longer run at its decay start', () => {
  it.each(kinds)('is bit-identical to an independent run: %s', (_name, model, data) => {
    const d = data();
    const forkAt = 17;
    const trunk = run(cfg(model, 30), d, { checkpointAt: [forkAt] });
    const handed = trunk.checkpoints.find((s) => s.step === forkAt)!;
    expect(handed).toBeDefined();
    // The trunk's rate is still stable at the fork point; the fork's decays from it.
    expect(trunk.updates[forkAt]!.lr).toBe(0.003);
    const fork = run(cfg(model, 20), d, { resume: handed });
    const independent = run(cfg(model, 20), d);
    expect(independent.updates[forkAt + 1]!.lr).toBeLessThan(0.003);
    // The fork's rows are the trunk's before the fork point and its own after.
    expect([...trunk.updates.slice(0, forkAt), ...fork.updates]).toEqual(independent.updates);
    expect([...trunk.evals.filter((e) => e.step <= forkAt), ...fork.evals]).toEqual(independent.evals);
    expect(fork.result).toEqual(independent.result);
    expect(fork.result.status).toBe('completed');
  });
});
