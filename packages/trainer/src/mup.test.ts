// μP's coordinate check (Yang et al. 2022, §D.1) as a test: after 3 Adam updates on a small
// batch, each layer's mean |activation| stays within 2× across a 16× range of widths under μP,
// while under the standard parametrization the output layer's grows with the width. The updates
// are train.ts's: the loss, the gradients, and the optimizer at μP's per-variable rates.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { lossOn, rowsTensor } from './task';
import { createModel, type ModelData, type ModelSpec } from './models';
import { lrMultipliers, type ParamRole } from './mup';
import { createOptimizer } from './optimizers';
import { createRng } from './rng';
import { selectBackend } from './backend';

const adam = { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 } as const;
const sgd = { kind: 'sgd', momentum: 0, nesterov: false, weightDecay: 0 } as const;
const batch = 4;

/** Mean |activation| per layer after `steps` updates of the model at this width. */
function coordinates(
  spec: ModelSpec,
  data: ModelData,
  lr: number,
  optimizer: typeof adam | typeof sgd = adam,
  steps = 3,
): Record<string, number> {
  const rng = createRng(7);
  const model = createModel(spec, data, rng);
  const opt = createOptimizer(optimizer, model.variables);
  const mult = model.parametrization ? lrMultipliers(model.parametrization, model.roles, optimizer.kind) : null;
  const draw = createRng(11);
  const x =
    data.task === 'lm'
      ? tf.tensor2d(
          Int32Array.from({ length: batch * data.inputDim }, () => Math.floor(draw.next() * data.numClasses)),
          [batch, data.inputDim],
          'int32',
        )
      : tf.tensor2d(
          Float32Array.from({ length: batch * data.inputDim }, () => 2 * draw.next() - 1),
          [batch, data.inputDim],
        );
  const rows = data.task === 'lm' ? batch * data.inputDim : batch;
  const y = rowsTensor(
    model,
    Int32Array.from({ length: rows }, () => Math.floor(draw.next() * data.numClasses)),
    rows,
    1,
  );
  for (let s = 0; s < steps; s++)
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => lossOn(model, model.forward(x, { training: true }), y), model.variables);
      opt.apply(grads, mult ? mult.map((k) => k * lr) : lr);
    });
  const out: Record<string, number> = {};
  tf.tidy(() => {
    model.forward(x, {
      training: false,
      probe: (layer, a) => {
        out[layer] = tf.mean(tf.abs(a)).dataSync()[0]!;
      },
    });
  });
  tf.dispose([x, y]);
  opt.dispose();
  model.dispose();
  return out;
}

const image: ModelData = { task: 'classification', shape: [8, 8, 3], inputDim: 192, numClasses: 10, targetDim: 1 };
const flat: ModelData = { task: 'classification', shape: [64], inputDim: 64, numClasses: 10, targetDim: 1 };
const text: ModelData = { task: 'lm', shape: [8], inputDim: 8, numClasses: 32, targetDim: 8 };
const heads = (w: number) => Math.min(16, w / 16);

const kinds: {
  kind: string;
  widths: number[];
  data: ModelData;
  lr: number;
  optimizer?: typeof sgd;
  spec: (w: number) => ModelSpec;
}[] = [
  {
    kind: 'mlp',
    widths: [64, 128, 256, 512, 1024],
    data: flat,
    lr: 0.01,
    spec: (w) => ({ kind: 'mlp', hidden: [w, w], activation: 'relu' }),
  },
  {
    kind: 'mlp (SGD)',
    widths: [64, 128, 256, 512, 1024],
    data: flat,
    lr: 0.05,
    optimizer: sgd,
    spec: (w) => ({ kind: 'mlp', hidden: [w, w], activation: 'relu' }),
  },
  {
    kind: 'cnn',
    widths: [32, 64, 128, 256, 512],
    data: image,
    lr: 0.01,
    spec: (w) => ({ kind: 'cnn', channels: [w], batchNorm: false }),
  },
  {
    kind: 'vit',
    widths: [64, 128, 256, 512, 1024],
    data: image,
    lr: 0.01,
    spec: (w) => ({ kind: 'vit', patchSize: 4, width: w, depth: 1, heads: heads(w), mlpRatio: 2 }),
  },
  {
    kind: 'gpt',
    widths: [64, 128, 256, 512, 1024],
    data: text,
    lr: 0.01,
    spec: (w) => ({ kind: 'gpt', width: w, depth: 1, heads: heads(w), mlpRatio: 2, contextLength: 8 }),
  },
];

beforeAll(async () => {
  await selectBackend('wasm');
});

describe('μP’s per-layer rates (Tensor Programs V, Table 3, relative to the base width)', () => {
  const roles: ParamRole[] = ['input', 'vector', 'hidden', 'vector', 'output', 'fixed'];
  it('Adam: hidden and output weights at 1/m, the rest at 1', () => {
    expect(lrMultipliers({ kind: 'mup', widthMultiplier: 4 }, roles, 'adam')).toEqual([1, 1, 0.25, 1, 0.25, 1]);
    expect(lrMultipliers({ kind: 'mup', widthMultiplier: 4 }, roles, 'adamw')).toEqual([1, 1, 0.25, 1, 0.25, 1]);
  });
  it('SGD: input weights and vectors at m, hidden at 1, output at 1/m', () => {
    expect(lrMultipliers({ kind: 'mup', widthMultiplier: 4 }, roles, 'sgd')).toEqual([4, 4, 1, 4, 0.25, 1]);
  });
  it('standard: one rate for all; schedule-free AdamW under μP is refused', () => {
    expect(lrMultipliers({ kind: 'standard' }, roles, 'adam')).toBeNull();
    expect(() => lrMultipliers({ kind: 'mup', widthMultiplier: 2 }, roles, 'schedule_free_adamw')).toThrow(
      /schedule-free/,
    );
  });
  it('an mlp marks its layers: input, hidden and output weights, width-sized biases, the readout bias fixed', () => {
    const m = createModel(
      { kind: 'mlp', hidden: [8, 8], activation: 'relu', parametrization: 'mup' },
      flat,
      createRng(1),
    );
    expect(m.roles).toEqual(['input', 'vector', 'hidden', 'vector', 'output', 'fixed']);
    // The readout starts at zero under μP.
    expect(Array.from(m.variables[4]!.dataSync()).every((v) => v === 0)).toBe(true);
    m.dispose();
  });
});

describe('μP coordinate check', () => {
  for (const k of kinds) {
    it(`${k.kind}: every layer within 2× across widths ${k.widths[0]} → ${k.widths.at(-1)} under μP; the output grows ≥ 2× under standard`, () => {
      const base = k.widths[0]!;
      const table: Record<string, Record<string, string>> = {};
      const runs = { mup: [] as Record<string, number>[], standard: [] as Record<string, number>[] };
      for (const w of k.widths) {
        for (const p of ['mup', 'standard'] as const) {
          const spec = {
            ...k.spec(w),
            ...(p === 'mup' ? { parametrization: 'mup', widthMultiplier: w / base } : {}),
          } as ModelSpec;
          const c = coordinates(spec, k.data, k.lr, k.optimizer);
          runs[p].push(c);
          for (const [layer, v] of Object.entries(c)) (table[`${p} ${layer}`] ??= {})[w] = v.toPrecision(3);
        }
      }
      console.log(
        `coordinate check, ${k.kind} (mean |activation| after 3 ${k.optimizer ? 'SGD' : 'Adam'} updates at lr ${k.lr}):`,
      );
      console.table(table);
      for (const layer of Object.keys(runs.mup[0]!)) {
        const v = runs.mup.map((c) => c[layer]!);
        expect(
          Math.max(...v) / Math.min(...v),
          `μP ${layer}: ${v.map((x) => x.toPrecision(3)).join(', ')}`,
        ).toBeLessThanOrEqual(2);
      }
      const out = runs.standard.map((c) => c.output!);
      expect(
        out.at(-1)! / out[0]!,
        `standard output: ${out.map((x) => x.toPrecision(3)).join(', ')}`,
      ).toBeGreaterThanOrEqual(2);
    }, 120_000);
  }
});
