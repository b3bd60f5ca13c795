import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type ModelSpec, TrialError } from '@lrsweep/contract';
import * as tf from '@tensorflow/tfjs';
import type { ForwardOptions } from './layers';
import type { LossKind, Model, ModelData } from './models';
import type { Rng } from './rng';

type LayersSpec = Extract<ModelSpec, { kind: 'layers' }>;
/** What a layer's `…Initializer` fields hold. */
type Initializer = { apply(shape: number[], dtype?: tf.DataType): tf.Tensor };

const invalid = (message: string) => new TrialError('MODEL_INVALID', message);

/**
 * A TF.js Layers model as read from its files: what `tensorflowjs_converter` writes from Keras
 * and `model.save('file://…')` from TF.js (model.json: the Keras topology and a manifest of
 * weight shards). Plain data, so it crosses to a training thread.
 */
export interface LayersArtifacts {
  modelTopology: object;
  weightSpecs: tf.io.WeightsManifestEntry[];
  /** The shards, concatenated in manifest order (null when the manifest lists none). */
  weightData: ArrayBuffer | null;
}

/**
 * Reads a model.json and its shards. `resolve` maps a shard path (relative to model.json, as the
 * manifest gives it) to a file, refusing one outside the model root.
 */
export function readLayersModel(
  file: string,
  resolve: (shard: string) => string = (s) => join(dirname(file), s),
  opts: { weights: boolean } = { weights: true },
): LayersArtifacts {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw invalid(`cannot read the model file: ${(err as Error).message}`);
  }
  const m = json as { format?: unknown; modelTopology?: unknown; weightsManifest?: unknown };
  if (!m || typeof m !== 'object') throw invalid('the model file is not a JSON object');
  if (m.format === 'graph-model')
    throw invalid(
      'this is a graph model (a converted SavedModel), which cannot be trained: convert the Keras model (tensorflowjs_converter --input_format keras) or save a TF.js Layers model',
    );
  if (!m.modelTopology || typeof m.modelTopology !== 'object')
    throw invalid("the model file has no 'modelTopology' (is it a TF.js Layers model.json?)");
  const manifest = m.weightsManifest ?? [];
  if (!Array.isArray(manifest)) throw invalid("the model file's 'weightsManifest' is not a list");
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const shards: Uint8Array[] = [];
  manifest.forEach((group: { paths?: unknown; weights?: unknown }, g) => {
    if (!Array.isArray(group?.paths) || !Array.isArray(group?.weights))
      throw invalid(`weightsManifest[${g}] needs 'paths' and 'weights'`);
    weightSpecs.push(...(group.weights as tf.io.WeightsManifestEntry[]));
    if (!opts.weights) return;
    for (const p of group.paths) {
      if (typeof p !== 'string') throw invalid(`weightsManifest[${g}].paths holds a non-string`);
      try {
        shards.push(readFileSync(resolve(p)));
      } catch (err) {
        throw err instanceof TrialError
          ? err
          : invalid(`cannot read the weight shard '${p}': ${(err as Error).message}`);
      }
    }
  });
  const total = shards.reduce((a, s) => a + s.length, 0);
  const weightData = opts.weights && shards.length ? new Uint8Array(total) : null;
  if (weightData) shards.reduce((o, s) => (weightData.set(s, o), o + s.length), 0);
  return { modelTopology: m.modelTopology, weightSpecs, weightData: weightData?.buffer ?? null };
}

/** Builds the model (its layers, and its file's weights when there are any): on the training thread. */
export async function buildLayersModel(a: LayersArtifacts): Promise<tf.LayersModel> {
  try {
    const handler = tf.io.fromMemory(
      a.weightData
        ? { modelTopology: a.modelTopology, weightSpecs: a.weightSpecs, weightData: a.weightData }
        : { modelTopology: a.modelTopology },
    );
    return await tf.loadLayersModel(handler);
  } catch (err) {
    throw invalid(`the model cannot be built: ${(err as Error).message}`);
  }
}

/** Every layer, nested models' included. */
function allLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return model.layers.flatMap((l) =>
    'layers' in l && Array.isArray((l as tf.LayersModel).layers) ? allLayers(l as tf.LayersModel) : [l],
  );
}

/** Layers that draw noise without a seed: their runs could not be repeated or resumed. */
const unseeded = new Set(['GaussianNoise', 'GaussianDropout', 'AlphaDropout']);
const dropouts = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'SpatialDropout3D']);

/** A 32-bit hash of a string (FNV-1a): seeds for tfjs's seeded random ops. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const shapeText = (s: readonly (number | null)[]) => `[${s.map((d) => d ?? 'any').join(', ')}]`;
const product = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** The initializer a layer made a weight with (kernel → kernelInitializer, moving_mean → movingMeanInitializer, …). */
function initializerOf(layer: tf.layers.Layer, weightName: string): Initializer | null {
  const suffix = weightName.split('/').pop()!.replace(/_\d+$/, '');
  const camel = suffix.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  const names = [`${camel}Initializer`, `${camel.replace(/Kernel$/, '')}Initializer`];
  const owners = [
    layer,
    (layer as unknown as { cell?: object }).cell,
    ...((layer as unknown as { cell?: { cells?: object[] } }).cell?.cells ?? []),
  ];
  for (const owner of owners) {
    if (!owner) continue;
    for (const n of names) {
      const init = (owner as Record<string, unknown>)[n];
      if (init && typeof (init as Initializer).apply === 'function') return init as Initializer;
    }
  }
  return null;
}

/**
 * Draws every weight afresh from its layer's initializer, seeded by the trial's seed and the
 * weight's place: the same seed starts from the same weights, another seed from others.
 */
function reinitialize(layers: tf.layers.Layer[], rng: Rng) {
  const base = Math.floor(rng.next() * 2 ** 31);
  let k = 0;
  for (const layer of layers) {
    for (const w of layer.weights) {
      const init = initializerOf(layer, w.originalName);
      if (!init)
        throw invalid(
          `layer '${layer.name}' (${layer.getClassName()}): no initializer is known for its weight '${w.originalName}'; use weights: "pretrained"`,
        );
      const seeded = init as unknown as { seed?: number };
      const had = 'seed' in seeded;
      const before = seeded.seed;
      if (had) seeded.seed = hash32(`${base}/${k}`);
      k++;
      const value = init.apply(w.shape as number[], w.dtype);
      w.write(value);
      value.dispose();
      if (had) seeded.seed = before;
    }
  }
}

/** The loss a spec names, and whether the model's last layer gives probabilities or logits. */
function lossOf(spec: LayersSpec, model: tf.LayersModel): { loss: LossKind; outputs: Model['outputs'] } {
  const loss: LossKind = spec.loss === 'mse' ? 'mse' : spec.loss === 'binary_crossentropy' ? 'binary' : 'softmax';
  const last = model.outputs[0]!.sourceLayer;
  const config = last.getConfig() as { activation?: string };
  const activation = last.getClassName() === 'Softmax' ? 'softmax' : config.activation;
  const probabilities =
    loss === 'softmax' ? activation === 'softmax' : loss === 'binary' ? activation === 'sigmoid' : false;
  return { loss, outputs: probabilities ? 'probabilities' : 'logits' };
}

/**
 * A Layers model as a trainer's model: checked against the data (errors name the layer or shape
 * that does not fit), re-initialized per seed unless `weights: "pretrained"`, its dropout seeded per
 * update, its batch-norm statistics kept in checkpoints.
 */
export function layersModel(spec: LayersSpec, model: tf.LayersModel, data: ModelData, rng: Rng): Model {
  if (model.inputs.length !== 1 || model.outputs.length !== 1)
    throw invalid(
      `the model has ${model.inputs.length} inputs and ${model.outputs.length} outputs; lrsweep trains models of one input and one output`,
    );
  const layers = allLayers(model);
  const noisy = layers.find((l) => unseeded.has(l.getClassName()));
  if (noisy)
    throw invalid(
      `layer '${noisy.name}' (${noisy.getClassName()}) draws unseeded noise, so its runs could not be repeated or resumed; use Dropout`,
    );
  const firstLayer = layers.find((l) => l.getClassName() !== 'InputLayer') ?? layers[0]!;
  const lastLayer = model.outputs[0]!.sourceLayer;

  // The input: the sample's values must fill the model's input shape.
  const inShape = model.inputs[0]!.shape.slice(1);
  const dataShape = data.shape;
  const dims = inShape.map((d, i) => (d === null ? (inShape.length === dataShape.length ? dataShape[i]! : null) : d));
  if (dims.some((d) => d === null) || product(dims as number[]) !== data.inputDim) {
    throw invalid(
      `layer '${firstLayer.name}' takes inputs of shape ${shapeText(inShape)}${dims.some((d) => d === null) ? '' : ` (${product(dims as number[])} values)`}; the dataset's samples are [${dataShape.join(', ')}] (${data.inputDim} values)`,
    );
  }

  // The output: one row per target, as wide as the loss needs.
  const { loss, outputs } = lossOf(spec, model);
  const outShape = model.outputs[0]!.shape.slice(1);
  if (outShape.some((d) => d === null))
    throw invalid(
      `layer '${lastLayer.name}' gives outputs of shape ${shapeText(outShape)}; lrsweep needs a fixed output shape`,
    );
  const width = outShape[outShape.length - 1] as number;
  const rowsPerSample = product(outShape.slice(0, -1) as number[]);
  const targets = loss === 'mse' ? 1 : data.targetDim;
  if (rowsPerSample !== targets) {
    throw invalid(
      `layer '${lastLayer.name}' gives outputs of shape ${shapeText(outShape)}; the dataset has ${data.targetDim} target${data.targetDim === 1 ? '' : 's'} per sample`,
    );
  }
  if (loss === 'softmax' && width < data.numClasses)
    throw invalid(
      `layer '${lastLayer.name}' gives ${width} values per sample; the dataset has ${data.numClasses} classes (labels 0–${data.numClasses - 1})`,
    );
  if (loss === 'binary') {
    if (width !== 1)
      throw invalid(`binary_crossentropy needs one output per sample; layer '${lastLayer.name}' gives ${width}`);
    if (data.numClasses > 2)
      throw invalid(`binary_crossentropy needs labels 0 and 1; the dataset has ${data.numClasses} classes`);
  }
  if (loss === 'mse' && width !== data.targetDim)
    throw invalid(
      `layer '${lastLayer.name}' gives ${width} values per sample; the dataset has ${data.targetDim} target${data.targetDim === 1 ? '' : 's'}`,
    );
  if (loss !== 'mse' && data.task === 'regression')
    throw invalid(`a regression dataset trains with loss "mse", not "${spec.loss}"`);
  if (loss === 'mse' && data.task !== 'regression')
    throw invalid('loss "mse" is for regression datasets (csv or npy with task "regression")');

  if (spec.weights !== 'pretrained') reinitialize(layers, rng);
  else if (!model.weights.length) throw invalid('weights: "pretrained", but the model has no weights');
  const dropLayers = layers.filter((l) => dropouts.has(l.getClassName())) as unknown as { seed?: number }[];
  const inputDims = dims as number[];
  const read = (w: tf.LayerVariable) => w.read() as tf.Variable;
  return {
    variables: model.trainableWeights.map(read),
    state: model.nonTrainableWeights.map(read),
    outputs,
    loss,
    width,
    forwardFlops: null,
    forward(x: tf.Tensor2D, opts?: ForwardOptions) {
      const training = opts?.training ?? false;
      if (training) dropLayers.forEach((l, i) => (l.seed = hash32(`${opts?.seed ?? ''}/${i}`)));
      const y = model.apply(tf.reshape(x, [x.shape[0], ...inputDims]), { training }) as tf.Tensor;
      return tf.reshape(y, [-1, width]) as tf.Tensor2D;
    },
    dispose: () => model.dispose(),
  };
}
