// `pnpm exec tsx scripts/profile-kernels.ts [mlp|lenet|cnn|vit|gpt] [rows] [--backend=tensorflow]`:
// times every kernel call of the backend (wasm unless asked) during training steps of one benchmark model (batch 128, Adam) and lists the costliest
// kernels by shape. A kernel that calls others through the registry (the patched products call
// Transpose) is timed whole and its callees again on their own rows.
import * as tf from '@tensorflow/tfjs';
import { selectBackend, train } from '@lrsweep/trainer';
import { adamConfig, BATCH, benchModels, randomDataset } from './bench-models';

const STEPS = 10;
const WARMUP = 3;

const describe = (name: string, args: { inputs: object; attrs?: Record<string, unknown> }) => {
  const shapes = JSON.stringify(Object.values(args.inputs).map((i: tf.TensorInfo) => i.shape));
  const a = args.attrs ?? {};
  const flags = [
    a.transposeA ? 'tA' : '',
    a.transposeB ? 'tB' : '',
    a.perm ? `perm${JSON.stringify(a.perm)}` : '',
    a.axis !== undefined ? `axis${JSON.stringify(a.axis)}` : '',
  ];
  return [name, shapes, ...flags].filter(Boolean).join(' ');
};

async function main() {
  const which = process.argv[2] ?? 'vit';
  const m = benchModels.find((x) => x.name === which);
  if (!m) throw new Error(`unknown model ${which}: one of ${benchModels.map((x) => x.name).join(', ')}`);
  const backend =
    process.argv.find((a) => a.startsWith('--backend='))?.slice('--backend='.length) === 'tensorflow'
      ? 'tensorflow'
      : 'wasm';
  await selectBackend(backend);
  const stats = new Map<string, { n: number; ms: number }>();
  let timing = false;
  for (const k of tf.getKernelsForBackend(backend)) {
    const original = k.kernelFunc;
    (k as { kernelFunc: typeof original }).kernelFunc = (args) => {
      if (!timing) return original(args);
      const t = performance.now();
      const out = original(args);
      const key = describe(k.kernelName, args as { inputs: object; attrs?: Record<string, unknown> });
      const s = stats.get(key) ?? { n: 0, ms: 0 };
      s.n += 1;
      s.ms += performance.now() - t;
      stats.set(key, s);
      return out;
    };
  }
  const times: number[] = [];
  train(adamConfig(m.spec, 1), randomDataset(m, BATCH * STEPS), {
    onUpdate: ({ step }) => {
      times.push(performance.now());
      timing = step + 1 >= WARMUP;
    },
  });
  const steps = STEPS - WARMUP;
  const wall = (times.at(-1)! - times[WARMUP - 1]!) / steps;
  const rows = [...stats].map(([k, s]) => ({ k, n: s.n / steps, ms: s.ms / steps })).sort((a, b) => b.ms - a.ms);
  const calls = rows.reduce((a, r) => a + r.n, 0);
  console.log(`${m.name}: ${wall.toFixed(1)} ms per update (wall), ${calls.toFixed(0)} kernel calls per update`);
  const inKernels = rows.reduce((a, r) => a + r.ms, 0);
  console.log(
    `${inKernels.toFixed(1)} ms of it in kernels (${((100 * inKernels) / wall).toFixed(0)}%), the rest in tfjs-core (dispatch, autodiff, tidy) and the trainer`,
  );
  for (const r of rows.slice(0, Number(process.argv.slice(3).find((a) => /^\d+$/.test(a)) ?? 40)))
    console.log(`${r.ms.toFixed(2).padStart(8)} ms ${r.n.toFixed(0).padStart(5)}×  ${r.k}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
