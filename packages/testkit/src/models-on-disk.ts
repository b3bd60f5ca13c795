import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dense = (name: string, units: number, activation: string) => ({
  class_name: 'Dense',
  config: {
    name,
    trainable: true,
    dtype: 'float32',
    units,
    activation,
    use_bias: true,
    kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } },
    bias_initializer: { class_name: 'Zeros', config: {} },
    kernel_regularizer: null,
    bias_regularizer: null,
    activity_regularizer: null,
    kernel_constraint: null,
    bias_constraint: null,
  },
});

/**
 * Writes a Keras Sequential model (InputLayer, Dense relu, Dropout, Dense) as the converter does:
 * the topology under `model_config`, the weights as float32 little-endian in one shard. The
 * weights are a fixed pattern, so a test can compute the model by hand. Returns model.json's
 * path and the weights by name.
 */
export function writeKerasModel(
  dir: string,
  o: {
    inputs: number;
    hidden: number;
    outputs: number;
    activation: 'softmax' | 'linear' | 'sigmoid';
    batchNorm?: boolean;
  },
) {
  const layers: object[] = [
    {
      class_name: 'InputLayer',
      config: { batch_input_shape: [null, o.inputs], dtype: 'float32', sparse: false, ragged: false, name: 'input_1' },
    },
    dense('dense_in', o.hidden, 'relu'),
    ...(o.batchNorm
      ? [
          {
            class_name: 'BatchNormalization',
            config: {
              name: 'bn',
              trainable: true,
              dtype: 'float32',
              axis: -1,
              momentum: 0.9,
              epsilon: 0.001,
              center: true,
              scale: true,
              beta_initializer: { class_name: 'Zeros', config: {} },
              gamma_initializer: { class_name: 'Ones', config: {} },
              moving_mean_initializer: { class_name: 'Zeros', config: {} },
              moving_variance_initializer: { class_name: 'Ones', config: {} },
            },
          },
        ]
      : []),
    {
      class_name: 'Dropout',
      config: { name: 'dropout', trainable: true, dtype: 'float32', rate: 0.1, noise_shape: null, seed: null },
    },
    dense('dense_out', o.outputs, o.activation),
  ];
  mkdirSync(dir, { recursive: true });
  const kernel = (r: number, c: number, k: number) =>
    Float32Array.from({ length: r * c }, (_, i) => 0.3 * Math.sin(k * (i + 1)));
  const weights: [string, number[], Float32Array][] = [
    ['dense_in/kernel', [o.inputs, o.hidden], kernel(o.inputs, o.hidden, 0.37)],
    ['dense_in/bias', [o.hidden], new Float32Array(o.hidden).fill(0.01)],
    ...(o.batchNorm
      ? ([
          ['bn/gamma', [o.hidden], new Float32Array(o.hidden).fill(1)],
          ['bn/beta', [o.hidden], new Float32Array(o.hidden)],
          ['bn/moving_mean', [o.hidden], new Float32Array(o.hidden)],
          ['bn/moving_variance', [o.hidden], new Float32Array(o.hidden).fill(1)],
        ] as [string, number[], Float32Array][])
      : []),
    ['dense_out/kernel', [o.hidden, o.outputs], kernel(o.hidden, o.outputs, 0.91)],
    ['dense_out/bias', [o.outputs], new Float32Array(o.outputs)],
  ];
  const shard = Buffer.concat(weights.map(([, , v]) => Buffer.from(v.buffer)));
  writeFileSync(join(dir, 'group1-shard1of1.bin'), shard);
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'keras v2.15.0',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    modelTopology: {
      keras_version: '2.15.0',
      backend: 'tensorflow',
      model_config: { class_name: 'Sequential', config: { name: 'sequential', layers } },
    },
    weightsManifest: [
      { paths: ['group1-shard1of1.bin'], weights: weights.map(([name, shape]) => ({ name, shape, dtype: 'float32' })) },
    ],
  };
  writeFileSync(join(dir, 'model.json'), JSON.stringify(modelJson));
  return { file: join(dir, 'model.json'), weights: Object.fromEntries(weights.map(([n, , v]) => [n, v])) };
}
