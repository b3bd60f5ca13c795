import type { ModelSpec, OptimizerSpec } from '@lrsweep/contract';

/** What the estimate needs of a trial's data: one sample's shape, its classes (or targets), its task. */
export interface MemoryData {
  shape: number[];
  inputDim: number;
  numClasses: number;
  targetDim: number;
  task: string;
}

/** A trial's memory, estimated before it trains (float32 everywhere). */
export interface MemoryEstimate {
  /** Weights, their gradients and the optimizer's state. */
  paramBytes: number;
  /** Activations kept for the backward pass and their gradients, for one batch. */
  activationBytes: number;
  totalBytes: number;
  params: number;
}

const F32 = 4;
/** The optimizer's state per weight: moments (Adam's two, SGD's momentum), averaged points. */
const optimizerSlots = (o: OptimizerSpec) =>
  o.kind === 'sgd' ? (o.momentum > 0 ? 1 : 0) : o.kind === 'schedule_free_adamw' ? 3 : 2;

/**
 * A cheap estimate of what one trial needs, from its model, data shape, batch and optimizer —
 * arithmetic only, no tensor is made (a model too big to build is what this is to catch). Weights
 * count once, their gradients once, the optimizer's state per its kind; activations are counted
 * per sample as the layers produce them, twice (kept for the backward pass, and their gradients),
 * times the batch. It errs high on purpose: a refusal says the numbers, a crash says nothing. One
 * estimator for a trial's slot and, later, for K packed trials (K × this ≤ the budget). Null for a
 * Layers model of the user's own (its layers are not known here).
 */
export function estimateTrialMemory(
  model: ModelSpec,
  data: MemoryData,
  batchSize: number,
  optimizer: OptimizerSpec,
): MemoryEstimate | null {
  const shape = sizes(model, data);
  if (!shape) return null;
  const paramBytes = shape.params * F32 * (2 + optimizerSlots(optimizer));
  const activationBytes = shape.activations * batchSize * F32 * 2;
  return { paramBytes, activationBytes, totalBytes: paramBytes + activationBytes, params: shape.params };
}

/** Weights, and activation values per sample, of a built-in model on this data. */
function sizes(model: ModelSpec, data: MemoryData): { params: number; activations: number } | null {
  const out = data.task === 'regression' ? data.targetDim : data.numClasses;
  const [h = 1, w = 1, c = 1] = data.shape;
  switch (model.kind) {
    case 'mlp': {
      const layers = [data.inputDim, ...model.hidden, out];
      let params = 0;
      for (let i = 1; i < layers.length; i++) params += layers[i - 1]! * layers[i]! + layers[i]!;
      // Each hidden layer: its output, its activation, a dropout mask.
      return { params, activations: data.inputDim + 3 * model.hidden.reduce((a, b) => a + b, 0) + out };
    }
    case 'lenet': {
      const h2 = Math.floor(h / 2) - 4;
      const w2 = Math.floor(w / 2) - 4;
      const flat = Math.floor(h2 / 2) * Math.floor(w2 / 2) * 16;
      const params = 25 * c * 6 + 6 + 25 * 6 * 16 + 16 + flat * 120 + 120 + 120 * 84 + 84 + 84 * out + out;
      const activations = h * w * 6 * 2 + (h / 2) * (w / 2) * 6 + h2 * w2 * 16 * 2 + flat + 2 * (120 + 84) + out;
      return { params, activations };
    }
    case 'cnn': {
      let params = 0;
      let activations = h * w * c;
      let cin = c;
      let hh = h;
      let ww = w;
      for (const cout of model.channels) {
        params += 9 * cin * cout + cout + 9 * cout * cout + cout + (model.batchNorm ? 4 * cout : 0);
        // Two convolutions, each: its output, batch norm's, the ReLU's; then the pooled output.
        activations += 2 * hh * ww * cout * (model.batchNorm ? 3 : 2) + Math.floor(hh / 2) * Math.floor(ww / 2) * cout;
        hh = Math.floor(hh / 2);
        ww = Math.floor(ww / 2);
        cin = cout;
      }
      return { params: params + cin * out + out, activations: activations + cin + out };
    }
    case 'vit': {
      const n = (h / model.patchSize) * (w / model.patchSize);
      const pd = model.patchSize * model.patchSize * c;
      const t = transformer(model.width, model.depth, model.heads, model.mlpRatio, n);
      return {
        params: pd * model.width + model.width + n * model.width + t.params + 2 * model.width + model.width * out + out,
        activations: n * pd + t.activations + out,
      };
    }
    case 'gpt': {
      const n = model.contextLength ?? data.shape[0] ?? 1;
      const t = transformer(model.width, model.depth, model.heads, model.mlpRatio, n);
      // Token and position embeddings; the head over the vocabulary at every position.
      return {
        params: out * model.width + n * model.width + t.params + 2 * model.width + model.width * out + out,
        activations: t.activations + 2 * n * out,
      };
    }
    default:
      return null;
  }
}

/** Pre-norm blocks: attention (q, k, v, scores, softmax, output) and an MLP of `ratio × d`. */
function transformer(d: number, depth: number, heads: number, ratio: number, n: number) {
  const perBlock = 4 * d * d + 4 * d + 2 * ratio * d * d + ratio * d + d + 4 * d;
  const actsPerBlock = n * d * (2 + 4 + 2) + 2 * heads * n * n + n * ratio * d * 2 + n * d * 2;
  return { params: depth * perBlock, activations: depth * actsPerBlock };
}

/** A byte count in MiB, for messages. */
export const mib = (bytes: number) => Math.ceil(bytes / 2 ** 20);
