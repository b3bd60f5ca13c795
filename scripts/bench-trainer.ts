// `pnpm bench:trainer`: training throughput on the wasm backend, and on the native one (tfjs-node on
// TF 2.21, when `pnpm setup:tensorflow` built it), for mlp, lenet, cnn, vit and gpt
// (the text task's transformer, 64-token windows: tokens/s too) at batch 128, as effective GFLOP/s (3 × forward FLOPs per sample × samples/s) beside the plain wasm
// matMul rate (512×512×512, fresh operands each call) measured in the same run, around each of
// several timed rounds per model; the table reports medians over rounds and the ratio's range.
// Then, where torch imports, lrsweep against PyTorch (1 thread each) in alternated pairs of rounds,
// with each update split into dispatch and kernel time (scripts/lib/vs-torch.ts, lib/dispatch.ts).
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { createModel, createRng, selectBackend, setNativeThreads, train } from '@lrsweep/trainer';
import { adamConfig, BATCH, benchModels as models, modelDataOf, randomDataset } from './bench-models';
import { cpuSeconds, median } from './lib/stats';
import { alternate, printVsTorch, startTorch } from './lib/vs-torch';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const quick = process.argv.includes('--quick');
const WARMUP = 3;
/** Timed rounds per model, each followed by a reference measurement. */
const ROUNDS = quick ? 3 : 7;
/** A round lasts at least this long (and 3 updates): short windows are at the mercy of noise. */
const ROUND_MS = quick ? 400 : 1000;
/** Alternated pairs of rounds (lrsweep, then PyTorch) per model. */
const PAIRS = quick ? 5 : 7;

function matmulGflops(): number {
  const n = 512;
  const pairs = Array.from(
    { length: quick ? 6 : 16 },
    () => [tf.randomNormal([n, n]), tf.randomNormal([n, n])] as const,
  );
  tf.tidy(() => tf.matMul(pairs[0]![0], pairs[0]![1]).dataSync()); // warm-up
  const t = performance.now();
  for (const [a, b] of pairs) {
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
  }
  const s = (performance.now() - t) / 1000;
  for (const [a, b] of pairs) a.dispose(), b.dispose();
  return (pairs.length * 2 * n ** 3) / s / 1e9;
}

interface Round {
  samplesPerSec: number;
  /** Samples per second of CPU time (all threads): steady on a loaded machine, fair to a multi-threaded backend. */
  samplesPerCpuSec: number;
  matmul: number;
  ratio: number;
}

/**
 * Trains `m` for WARMUP updates, then ROUNDS timed rounds; the plain matMul rate is measured
 * before the first round and after each (between updates, outside the timed windows), and each
 * round is set against the mean of the references around it: the machine's speed drifts.
 */
function measure(m: (typeof models)[number], forwardFlops: number): Round[] {
  // Enough batches for every round (a round is at least 3 updates; slow models need few).
  const data = randomDataset(m, BATCH * 64);
  const rounds: Round[] = [];
  let before = 0;
  let start = 0;
  let cpuStart = 0;
  let steps = 0;
  train(adamConfig(m.spec, 1000), data, {
    onUpdate: ({ step }) => {
      const now = performance.now();
      if (step + 1 === WARMUP) {
        before = matmulGflops();
        start = performance.now();
        cpuStart = cpuSeconds();
        return;
      }
      if (step + 1 < WARMUP) return;
      steps += 1;
      if (steps < 3 || now - start < ROUND_MS) return;
      const cpu = cpuSeconds() - cpuStart;
      const after = matmulGflops();
      const samplesPerSec = (steps * BATCH) / ((now - start) / 1000);
      const matmul = (before + after) / 2;
      rounds.push({
        samplesPerSec,
        samplesPerCpuSec: (steps * BATCH) / cpu,
        matmul,
        ratio: (3 * forwardFlops * samplesPerSec) / 1e9 / matmul,
      });
      [before, steps, start, cpuStart] = [after, 0, performance.now(), cpuSeconds()];
    },
    shouldStop: () => rounds.length >= ROUNDS,
  });
  return rounds;
}

async function main() {
  type Row = {
    model: string;
    backend: string;
    samplesPerSec: number;
    samplesPerCpuSec: number;
    tokensPerSec: number | null;
    gflops: number;
    matmul: number;
    ratio: number;
    lo: number;
    hi: number;
    rounds: number;
  };
  const rows: Row[] = [];
  const only = process.argv
    .find((a) => a.startsWith('--models='))
    ?.slice('--models='.length)
    .split(',');
  // The native backend on one intra-op thread, like the PyTorch it is set against (and like a
  // worker with a slot per core); TF_NUM_INTRAOP_THREADS chooses another.
  const threads = setNativeThreads(1);
  // wasm always; the native backend when it loads (say so when it does not).
  const backends: ('wasm' | 'tensorflow')[] = ['wasm'];
  let fused = '';
  const native = await selectBackend('tensorflow').then(
    (c) => (
      (fused = c.fusedOps?.loaded
        ? 'fused layer-norm and GELU kernels on'
        : `fused kernels off: ${c.fusedOps?.reason}`),
      null
    ),
    (err: Error) => err.message,
  );
  if (native) console.log(`(native backend not measured: ${native}; \`pnpm setup:tensorflow\` builds it)\n`);
  else if (!process.argv.includes('--wasm-only')) backends.push('tensorflow');
  for (const name of backends) {
    await selectBackend(name);
    // The first measurement after the backend starts runs cold (operator set-up, memory growth).
    matmulGflops();
    for (const m of models.filter((x) => !only || only.includes(x.name))) {
      const built = createModel(m.spec, modelDataOf(m), createRng(0));
      const forwardFlops = built.forwardFlops!;
      built.dispose();
      const rounds = measure(m, forwardFlops);
      const ratios = rounds.map((r) => r.ratio);
      const samplesPerSec = median(rounds.map((r) => r.samplesPerSec));
      rows.push({
        model: m.name,
        backend: name,
        samplesPerSec,
        samplesPerCpuSec: median(rounds.map((r) => r.samplesPerCpuSec)),
        tokensPerSec: m.task === 'lm' ? samplesPerSec * m.shape[0]! : null,
        gflops: (3 * forwardFlops * samplesPerSec) / 1e9,
        matmul: median(rounds.map((r) => r.matmul)),
        ratio: median(ratios),
        lo: Math.min(...ratios),
        hi: Math.max(...ratios),
        rounds: rounds.length,
      });
    }
  }
  await selectBackend('wasm');
  const target: Record<string, number> = { mlp: 0.8, vit: 0.4, lenet: 0.3, cnn: 0.3, gpt: 0.4 };
  if (backends.includes('tensorflow'))
    console.log(
      `native backend: ${threads.intraOp} intra-op thread(s), ${threads.interOp} inter-op (TF_NUM_INTRAOP_THREADS, TF_NUM_INTEROP_THREADS); ${fused} (LRSWEEP_FUSED_OPS=0 turns them off)\n`,
    );
  console.log(
    `batch ${BATCH}, Adam; per model and backend ${ROUNDS} timed rounds of ≥ ${ROUND_MS} ms, each set against that backend's plain matMul rate (512³, fresh operands) measured around it; medians over rounds\n`,
  );
  console.log(
    '| model | backend | samples/s | samples per CPU-s | tokens/s | effective GFLOP/s | matMul GFLOP/s | ratio (median) | ratio range over rounds | wasm target |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${r.model} | ${r.backend} | ${r.samplesPerSec.toFixed(0)} | ${r.samplesPerCpuSec.toFixed(0)} | ${r.tokensPerSec === null ? '–' : r.tokensPerSec.toFixed(0)} | ${r.gflops.toFixed(2)} | ${r.matmul.toFixed(1)} | ${r.ratio.toFixed(2)} | ${r.lo.toFixed(2)}–${r.hi.toFixed(2)} | ${r.backend === 'wasm' ? `≥ ${target[r.model]}` : '–'} |`,
    );
  if (backends.length > 1) {
    console.log('\n| model | tensorflow ÷ wasm, samples/s | per CPU-second | faster here |');
    console.log('|---|---|---|---|');
    for (const w of rows.filter((r) => r.backend === 'wasm')) {
      const t = rows.find((r) => r.backend === 'tensorflow' && r.model === w.model);
      if (t)
        console.log(
          `| ${w.model} | ${(t.samplesPerSec / w.samplesPerSec).toFixed(2)}× | ${(t.samplesPerCpuSec / w.samplesPerCpuSec).toFixed(2)}× | ${t.samplesPerSec > w.samplesPerSec ? 'tensorflow' : 'wasm'} |`,
        );
    }
  }
  // PyTorch with one thread on the same models, where torch can be imported, alternated with
  // lrsweep's rounds (per CPU-second, which is fair to TF's thread pool): both see the same load.
  const python = [process.env.LRSWEEP_TORCH_PYTHON, resolve(root, '.venv-torch/bin/python')].find(
    (p): p is string => !!p && existsSync(p),
  );
  if (!python)
    console.log(
      '\n(PyTorch not measured: no python with torch (.venv-torch, made by npm test, or LRSWEEP_TORCH_PYTHON))',
    );
  else {
    const torch = startTorch(python, resolve(root, 'scripts/bench_torch.py'));
    try {
      const chosen = models.filter((x) => !only || only.includes(x.name));
      const result = await alternate(torch, chosen, backends, { pairs: PAIRS, roundMs: ROUND_MS });
      printVsTorch(result, torch.version);
    } catch (err) {
      console.log(`\n(PyTorch not measured: ${(err as Error).message})`);
    } finally {
      torch.close();
    }
  }
  // Memory: tensors and RSS across 100 consecutive trials (the worker's pattern: one model after another).
  const small = randomDataset({ shape: [28, 28, 1], task: 'classification' }, 256);
  const probe: { trial: number; tensors: number; rssMb: number }[] = [];
  for (let i = 1; i <= (quick ? 20 : 100); i++) {
    train(
      {
        model: { kind: 'mlp', hidden: [64], activation: 'relu' },
        optimizer: { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
        training: { epochs: 1, batchSize: 64, evalEvery: 2 },
        baseLr: 1e-3,
        schedule: { kind: 'cosine' },
        seed: i,
      },
      small,
    );
    if (i === 10 || i % 50 === 0 || i === (quick ? 20 : 100))
      probe.push({ trial: i, tensors: tf.memory().numTensors, rssMb: process.memoryUsage().rss / 2 ** 20 });
  }
  const [first, last] = [probe[0]!, probe.at(-1)!];
  console.log(
    `\nmemory over ${last.trial} trials: tensors ${first.tensors} → ${last.tensors}; RSS ${first.rssMb.toFixed(0)} → ${last.rssMb.toFixed(0)} MB (trial ${first.trial} → ${last.trial})`,
  );
  for (const r of rows) {
    console.log(
      JSON.stringify({
        bench: 'trainer',
        model: r.model,
        backend: r.backend,
        samplesPerSec: Math.round(r.samplesPerSec),
        samplesPerCpuSec: Math.round(r.samplesPerCpuSec),
        ...(r.tokensPerSec === null ? {} : { tokensPerSec: Math.round(r.tokensPerSec) }),
        gflops: Number(r.gflops.toFixed(3)),
        matmulGflops: Number(r.matmul.toFixed(3)),
        ratio: Number(r.ratio.toFixed(3)),
      }),
    );
  }
  console.log(
    JSON.stringify({
      bench: 'trainer-memory',
      trials: last.trial,
      tensorsAt10: first.tensors,
      tensorsAtEnd: last.tensors,
      rssMbAt10: Math.round(first.rssMb),
      rssMbAtEnd: Math.round(last.rssMb),
    }),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
