// See gpu-check.sh. Trains each model kind for 200 updates on the GPU backend (tfjs-node-gpu,
// built by `node scripts/setup-tensorflow.mjs --cuda`) and on wasm from the same seed.
import { cpus } from 'node:os';
import {
  type BackendPreference,
  loadDataset,
  selectBackend,
  synthetic,
  type TrainConfig,
  train,
} from '@lrsweep/trainer';

const backend = (process.env.LRSWEEP_GPU_CHECK_BACKEND ?? 'tensorflow-gpu') as BackendPreference;
const updates = Number(process.env.LRSWEEP_GPU_CHECK_UPDATES ?? 200);
const rtol = 2e-3;
const kinds: TrainConfig['model'][] = [
  { kind: 'mlp', hidden: [256], activation: 'relu' },
  { kind: 'lenet', activation: 'relu', pool: 'max' },
  { kind: 'cnn', channels: [16, 32], batchNorm: true },
  { kind: 'vit', patchSize: 4, width: 64, depth: 2, heads: 4, mlpRatio: 2 },
];
const batch = 64;
const digits = loadDataset({ name: 'mnist', trainSize: batch * updates, testSize: 256 });
const small = synthetic({ trainSize: batch * updates, testSize: 256 });

let failed = false;
try {
  const b = await selectBackend(backend);
  console.log(`backend ${b.name} (${b.package}${b.gpu ? ', GPU' : ''}) on ${cpus()[0]?.model ?? 'a CPU'}`);
} catch (err) {
  console.error(`✗ the ${backend} backend does not load: ${(err as Error).message}`);
  process.exit(1);
}
console.log(
  `${'model'.padEnd(6)}  ${`${backend} samples/s`.padStart(24)}  ${'wasm samples/s'.padStart(14)}  ${'ratio'.padStart(6)}  parity (first 20 losses)`,
);
for (const model of kinds) {
  const cfg: TrainConfig = {
    model,
    optimizer: { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
    training: { epochs: 1, batchSize: batch, evalEvery: updates },
    baseLr: 0.001,
    schedule: { kind: 'cosine', minFactor: 0 },
    seed: 1,
  };
  const data = model.kind === 'lenet' || model.kind === 'mlp' ? digits : small;
  const run = async (pref: BackendPreference) => {
    await selectBackend(pref);
    const losses: number[] = [];
    const t0 = performance.now();
    train(cfg, data, { onUpdate: (u) => losses.push(u.trainLoss) });
    return { losses, samplesPerS: (updates * batch) / ((performance.now() - t0) / 1000) };
  };
  const a = await run(backend);
  const w = await run('wasm');
  const worst = Math.max(
    ...a.losses.slice(0, 20).map((x, i) => Math.abs(x - w.losses[i]!) / Math.max(Math.abs(w.losses[i]!), 1e-12)),
  );
  const ok = worst <= rtol && a.losses.every(Number.isFinite);
  failed ||= !ok;
  console.log(
    `${model.kind.padEnd(6)}  ${a.samplesPerS.toFixed(0).padStart(24)}  ${w.samplesPerS.toFixed(0).padStart(14)}  ${(a.samplesPerS / w.samplesPerS).toFixed(2).padStart(5)}×  ${ok ? '✓' : '✗'} worst relative difference ${worst.toExponential(1)} (tolerance ${rtol})`,
  );
}
process.exit(failed ? 1 : 0);
