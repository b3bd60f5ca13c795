// `pnpm bench:trainer`: training throughput on the wasm backend for mlp, lenet, cnn and vit at
// batch 128, as effective GFLOP/s (3 × forward FLOPs per sample × samples/s) beside the plain wasm
// matMul rate (512×512×512, fresh operands each call) measured in the same run.
import * as tf from '@tensorflow/tfjs';
import { createModel, createRng, type Dataset, type ModelSpec, selectBackend, train } from '@lrsweep/trainer';

const BATCH = 128;
const quick = process.argv.includes('--quick');
const STEPS = quick ? 6 : 20;
const WARMUP = 3;

function matmulGflops(): number {
  const n = 512;
  const pairs = Array.from({ length: quick ? 6 : 16 }, () => [tf.randomNormal([n, n]), tf.randomNormal([n, n])] as const);
  tf.matMul(pairs[0]![0], pairs[0]![1]).dataSync(); // warm-up
  const t = performance.now();
  for (const [a, b] of pairs) {
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
  }
  const s = (performance.now() - t) / 1000;
  for (const [a, b] of pairs) (a.dispose(), b.dispose());
  return (pairs.length * 2 * n ** 3) / s / 1e9;
}

function randomDataset(shape: [number, number, number], samples: number): Dataset {
  const d = shape[0] * shape[1] * shape[2];
  const rng = createRng(3);
  const x = Float32Array.from({ length: samples * d }, () => rng.next());
  const y = Int32Array.from({ length: samples }, (_, i) => i % 10);
  return { name: 'bench', shape, inputDim: d, numClasses: 10, trainX: x, trainY: y, testX: x.subarray(0, BATCH * d), testY: y.subarray(0, BATCH), checksum: '' };
}

const models: { name: string; spec: ModelSpec; shape: [number, number, number] }[] = [
  { name: 'mlp', spec: { kind: 'mlp', hidden: [256], activation: 'relu' }, shape: [28, 28, 1] },
  { name: 'lenet', spec: { kind: 'lenet', activation: 'sigmoid' }, shape: [28, 28, 1] },
  { name: 'cnn', spec: { kind: 'cnn', channels: [32, 64], batchNorm: false }, shape: [32, 32, 3] },
  { name: 'vit', spec: { kind: 'vit', patchSize: 7, width: 64, depth: 2, heads: 4, mlpRatio: 2 }, shape: [28, 28, 1] },
];

async function main() {
  const backend = await selectBackend('wasm');
  // The first measurement after the backend starts runs cold (operator set-up, memory growth).
  matmulGflops();
  const rows: Record<string, number | string>[] = [];
  const references: number[] = [];
  for (const m of models) {
    const data = randomDataset(m.shape, BATCH * (WARMUP + STEPS));
    const flops = createModel(m.spec, m.shape, 10, createRng(0));
    const forwardFlops = flops.forwardFlops;
    flops.dispose();
    // The reference is measured right before and after each model: the machine's speed drifts.
    const before = matmulGflops();
    const times: number[] = [];
    train(
      { model: m.spec, optimizer: { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }, training: { epochs: 1, batchSize: BATCH, evalEvery: 1_000_000 }, baseLr: 1e-3, schedule: { kind: 'constant' }, seed: 0 },
      { ...data, testX: data.testX, testY: data.testY },
      { onUpdate: () => times.push(performance.now()) },
    );
    const matmul = (before + matmulGflops()) / 2;
    references.push(matmul);
    const seconds = (times.at(-1)! - times[WARMUP - 1]!) / 1000;
    const samplesPerSec = (STEPS * BATCH) / seconds;
    const gflops = (3 * forwardFlops * samplesPerSec) / 1e9;
    rows.push({ model: m.name, samplesPerSec, gflops, matmul, ratio: gflops / matmul });
  }
  const target: Record<string, number> = { mlp: 0.8, vit: 0.4, lenet: 0.3, cnn: 0.3 };
  console.log(`wasm matMul 512³ (fresh operands), measured around each model: ${references.map((x) => x.toFixed(1)).join(', ')} GFLOP/s; batch ${BATCH}, Adam, ${STEPS} timed steps\n`);
  console.log('| model | samples/s | effective GFLOP/s | matMul GFLOP/s | ratio | target |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.model} | ${(r.samplesPerSec as number).toFixed(0)} | ${(r.gflops as number).toFixed(2)} | ${(r.matmul as number).toFixed(1)} | ${(r.ratio as number).toFixed(2)} | ≥ ${target[r.model as string]} |`);
  // Memory: tensors and RSS across 100 consecutive trials (the worker's pattern: one model after another).
  const small = randomDataset([28, 28, 1], 256);
  const probe: { trial: number; tensors: number; rssMb: number }[] = [];
  for (let i = 1; i <= (quick ? 20 : 100); i++) {
    train(
      { model: { kind: 'mlp', hidden: [64], activation: 'relu' }, optimizer: { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }, training: { epochs: 1, batchSize: 64, evalEvery: 2 }, baseLr: 1e-3, schedule: { kind: 'cosine' }, seed: i },
      small,
    );
    if (i === 10 || i % 50 === 0 || i === (quick ? 20 : 100)) probe.push({ trial: i, tensors: tf.memory().numTensors, rssMb: process.memoryUsage().rss / 2 ** 20 });
  }
  const [first, last] = [probe[0]!, probe.at(-1)!];
  console.log(`\nmemory over ${last.trial} trials: tensors ${first.tensors} → ${last.tensors}; RSS ${first.rssMb.toFixed(0)} → ${last.rssMb.toFixed(0)} MB (trial ${first.trial} → ${last.trial})`);
  for (const r of rows) {
    console.log(JSON.stringify({ bench: 'trainer', model: r.model, backend: backend.name, samplesPerSec: Math.round(r.samplesPerSec as number), gflops: Number((r.gflops as number).toFixed(3)), matmulGflops: Number((r.matmul as number).toFixed(3)), ratio: Number((r.ratio as number).toFixed(3)) }));
  }
  console.log(JSON.stringify({ bench: 'trainer-memory', trials: last.trial, tensorsAt10: first.tensors, tensorsAtEnd: last.tensors, rssMbAt10: Math.round(first.rssMb), rssMbAtEnd: Math.round(last.rssMb) }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
