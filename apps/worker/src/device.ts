// What a worker trains on, as its registration and each trial's provenance report it: on a GPU
// worker the device nvidia-smi names (model, memory, driver) for its first visible GPU; on a CPU
// worker the CPU model, its cores and the machine's memory.
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

export interface DeviceInfo {
  kind: 'cpu' | 'gpu';
  /** "NVIDIA H100 80GB HBM3", or the CPU model. */
  name: string;
  memoryMiB: number | null;
  /** The NVIDIA driver version (GPU workers only). */
  driver: string | null;
}

/** One line of `nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(line: string): Pick<DeviceInfo, 'name' | 'memoryMiB' | 'driver'> | null {
  const parts = line.split(',').map((p) => p.trim());
  if (parts.length < 3 || !parts[0]) return null;
  const memory = Number(parts[1]);
  return { name: parts[0], memoryMiB: Number.isFinite(memory) ? memory : null, driver: parts[2] || null };
}

/** The first GPU CUDA_VISIBLE_DEVICES lets this process see (nvidia-smi numbers all of them). */
const visibleGpu = (env: NodeJS.ProcessEnv) => env.CUDA_VISIBLE_DEVICES?.split(',')[0]?.trim() || '0';

export function describeDevice(gpu: boolean, env: NodeJS.ProcessEnv = process.env, smi = 'nvidia-smi'): DeviceInfo {
  if (gpu) {
    try {
      const out = execFileSync(
        smi,
        ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader,nounits', '-i', visibleGpu(env)],
        { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] },
      );
      const parsed = parseNvidiaSmi(out.split('\n')[0] ?? '');
      if (parsed) return { kind: 'gpu', ...parsed };
    } catch {
      // No nvidia-smi (or it hung): the GPU is still a GPU, unnamed.
    }
    return { kind: 'gpu', name: 'GPU (nvidia-smi did not answer)', memoryMiB: null, driver: null };
  }
  const c = cpus();
  return {
    kind: 'cpu',
    name: `${c[0]?.model?.trim() ?? 'cpu'} ×${c.length}`,
    memoryMiB: Math.round(totalmem() / 2 ** 20),
    driver: null,
  };
}
