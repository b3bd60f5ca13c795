// lrsweep against PyTorch (one thread each, the same models and batch), alternated round by round
// in the same run so that both see the same machine: a PyTorch process kept open
// (scripts/bench_torch.py) times one round when asked, between lrsweep's rounds on each backend.
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { selectBackend, train } from '@lrsweep/trainer';
import { adamConfig, BATCH, type BenchModel, randomDataset } from '../bench-models';
import { dispatchSplit } from './dispatch';
import { cpuSeconds, median, percentile } from './stats';

export interface Rates {
  samplesPerSec: number;
  samplesPerCpuSec: number;
}

/** A PyTorch process that times one round of a model per request. */
export function startTorch(python: string, script: string) {
  const child = spawn(python, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => waiting.shift()?.(l));
  const exited = new Promise<never>((_, reject) =>
    child.on('exit', (code) => reject(new Error(`PyTorch exited (${code}): ${stderr.trim().split('\n').at(-1)}`))),
  );
  exited.catch(() => {});
  let version = '';
  return {
    async round(model: string, seconds: number): Promise<Rates> {
      const line = new Promise<string>((r) => waiting.push(r));
      child.stdin.write(`${model} ${seconds}\n`);
      const answer = JSON.parse(await Promise.race([line, exited])) as Rates & { torch?: string; error?: string };
      if (answer.error) throw new Error(answer.error);
      version = answer.torch ?? version;
      return answer;
    },
    get version() {
      return version;
    },
    close: () => child.stdin.end(),
  };
}
export type Torch = ReturnType<typeof startTorch>;

/** One timed round of `m` on the active backend: 3 warm-up updates, then at least `ms` (and 3 updates). */
function lrsweepRound(m: BenchModel, ms: number): Rates {
  const data = randomDataset(m, BATCH * 64);
  let start = 0;
  let cpuStart = 0;
  let steps = 0;
  let out: Rates | null = null;
  train(adamConfig(m.spec, 1000), data, {
    onUpdate: ({ step }) => {
      if (step + 1 === 3) {
        start = performance.now();
        cpuStart = cpuSeconds();
        return;
      }
      if (step + 1 < 3) return;
      steps += 1;
      const now = performance.now();
      if (steps < 3 || now - start < ms) return;
      out = {
        samplesPerSec: (steps * BATCH) / ((now - start) / 1000),
        samplesPerCpuSec: (steps * BATCH) / (cpuSeconds() - cpuStart),
      };
    },
    shouldStop: () => out !== null,
  });
  return out!;
}

export interface VsTorchRow {
  model: string;
  backend: string;
  pairs: number;
  /** lrsweep ÷ PyTorch per CPU-second: the median of the per-pair ratios, and their quartiles. */
  ratio: number;
  q1: number;
  q3: number;
  torchPerCpuSec: number;
  /** PyTorch's own spread over its rounds: (q3 − q1) ÷ median. */
  torchSpread: number;
  split: ReturnType<typeof dispatchSplit>;
}

/**
 * `pairs` pairs of rounds per model: in each, a round of lrsweep on every backend, then one of
 * PyTorch; each lrsweep round is set against the PyTorch round of its pair.
 */
export async function alternate(
  torch: Torch,
  models: BenchModel[],
  backends: string[],
  o: { pairs: number; roundMs: number },
): Promise<{ rows: VsTorchRow[]; load: [number, number] }> {
  const loadBefore = loadavg()[0]!;
  const rows: VsTorchRow[] = [];
  for (const m of models) {
    const ours = new Map<string, Rates[]>(backends.map((b) => [b, []]));
    const theirs: Rates[] = [];
    for (let p = 0; p < o.pairs; p++) {
      for (const b of backends) {
        await selectBackend(b as 'wasm' | 'tensorflow');
        ours.get(b)!.push(lrsweepRound(m, o.roundMs));
      }
      theirs.push(await torch.round(m.name, o.roundMs / 1000));
    }
    const torchRates = theirs.map((r) => r.samplesPerCpuSec);
    const torchMedian = median(torchRates);
    for (const b of backends) {
      await selectBackend(b as 'wasm' | 'tensorflow');
      const ratios = ours.get(b)!.map((r, i) => r.samplesPerCpuSec / theirs[i]!.samplesPerCpuSec);
      rows.push({
        model: m.name,
        backend: b,
        pairs: o.pairs,
        ratio: median(ratios),
        q1: percentile(ratios, 25),
        q3: percentile(ratios, 75),
        torchPerCpuSec: torchMedian,
        torchSpread: (percentile(torchRates, 75) - percentile(torchRates, 25)) / torchMedian,
        split: dispatchSplit(m),
      });
    }
  }
  return { rows, load: [loadBefore, loadavg()[0]!] };
}

/** The alternated comparison as a table and one JSON line per row. */
export function printVsTorch(r: { rows: VsTorchRow[]; load: [number, number] }, torchVersion: string) {
  const target = 0.6;
  console.log(
    `\nagainst PyTorch ${torchVersion}, 1 thread each, samples per CPU-second; ${r.rows[0]?.pairs ?? 0} alternated pairs of rounds per model (lrsweep on each backend, then PyTorch); load average ${r.load[0].toFixed(2)} → ${r.load[1].toFixed(2)}:\n`,
  );
  console.log(
    '| model | backend | lrsweep ÷ PyTorch (median of pairs) | IQR | PyTorch per CPU-s | PyTorch spread (IQR ÷ median) | kernel calls per update | dispatch per call | dispatch ÷ update | target (native) |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const x of r.rows) {
    const native = x.backend === 'tensorflow' && x.model !== 'mlp';
    console.log(
      `| ${x.model} | ${x.backend} | ${x.ratio.toFixed(2)}× | ${x.q1.toFixed(2)}–${x.q3.toFixed(2)} | ${x.torchPerCpuSec.toFixed(0)} | ${(100 * x.torchSpread).toFixed(1)}% | ${x.split.calls.toFixed(0)} | ${x.split.perCallUs.toFixed(1)} µs | ${x.split.dispatchMs.toFixed(1)} of ${x.split.msPerUpdate.toFixed(1)} ms (${((100 * x.split.dispatchMs) / x.split.msPerUpdate).toFixed(0)}%) | ${native ? `≥ ${target}× (${x.ratio >= target ? 'met' : `not met: ${x.ratio.toFixed(3)}`})` : '–'} |`,
    );
  }
  for (const x of r.rows)
    console.log(
      JSON.stringify({
        bench: 'trainer-vs-torch',
        model: x.model,
        backend: x.backend,
        pairs: x.pairs,
        ratio: Number(x.ratio.toFixed(3)),
        iqr: [Number(x.q1.toFixed(3)), Number(x.q3.toFixed(3))],
        torchPerCpuSec: Math.round(x.torchPerCpuSec),
        torchSpread: Number(x.torchSpread.toFixed(3)),
        kernelCalls: Math.round(x.split.calls),
        dispatchMs: Number(x.split.dispatchMs.toFixed(2)),
        msPerUpdate: Number(x.split.msPerUpdate.toFixed(2)),
        loadAverage: r.load.map((v) => Number(v.toFixed(2))),
      }),
    );
}
