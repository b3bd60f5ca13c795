// A sweep end to end through a worker on the native backend (tfjs-node on TF 2.21's C API, built by
// `pnpm setup:tensorflow`): its trials train, rank, and record `backend: tensorflow`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  finishOrWorkerDies,
  nativeBackendMissing,
  nativeBackendTests,
  type Stack,
  startStack,
  tinySpec,
} from '@lrsweep/testkit';

// Skipped (saying why) where the backend does not load; in CI a failure.
const nativeTests = nativeBackendTests(nativeBackendMissing());

describe.skipIf(nativeTests.skip)('a sweep on the native backend', () => {
  let stack: Stack;
  beforeAll(async () => {
    nativeTests.assert();
    stack = await startStack('native', { workers: 1, env: { LRSWEEP_BACKEND: 'tensorflow' } });
  }, 120_000);
  afterAll(async () => stack?.stop());

  it('trains every trial on tensorflow and ranks them', async () => {
    const created = await stack.lrsweep.submitSweep(
      tinySpec({
        name: 'native',
        dataset: { trainSize: 600, testSize: 100 },
        model: { kind: 'lenet', activation: 'relu', pool: 'max' },
        training: { evalEvery: 4 },
        grid: { baseLr: [0.003, 0.01], schedule: [{ kind: 'constant' }, { kind: 'cosine' }] },
      }) as never,
    );
    await stack.lrsweep.follow(created.id, () => {}, 250);
    expect((await stack.lrsweep.getSweep(created.id)).status).toBe('completed');
    const { trials } = await stack.lrsweep.listTrials(created.id);
    expect(trials.map((t) => t.backend)).toEqual(['tensorflow', 'tensorflow', 'tensorflow', 'tensorflow']);
    expect(trials.every((t) => t.provenance?.backend === 'tensorflow')).toBe(true);
    // setup:tensorflow builds the fused kernels with the binding: the worker loads them, and says so.
    expect(trials.map((t) => t.provenance?.hardware?.fusedKernels)).toEqual([true, true, true, true]);
    const r = await stack.lrsweep.results(created.id);
    expect(r.ranking.every((x) => x.mean !== null && Number.isFinite(x.mean))).toBe(true);
    expect(
      stack.workers[0]!.lines.some((l) => (l.backend as { name?: string } | undefined)?.name === 'tensorflow'),
    ).toBe(true);
    expect(stack.workers[0]!.lines.filter((l) => l.msg === 'trial backend').map((l) => l.why)).toEqual(
      Array(4).fill('LRSWEEP_BACKEND=tensorflow'),
    );
  }, 120_000);

  it('lets the spec force wasm on a native worker (training.backend)', async () => {
    const created = await stack.lrsweep.submitSweep(
      tinySpec({ name: 'forced-wasm', training: { backend: 'wasm' } }) as never,
    );
    await stack.lrsweep.follow(created.id, () => {}, 250);
    const [t] = (await stack.lrsweep.listTrials(created.id)).trials;
    expect(t).toMatchObject({ status: 'completed', backend: 'wasm' });
  }, 60_000);
});

// A failed trial's trainer process is replaced, and the worker goes on. (Before trainer processes,
// its thread was, and the fused kernels had to survive Node unloading its add-ons: they are linked
// -z nodelete, as re-registering them in TensorFlow's op registry aborts the process.)
describe.skipIf(nativeTests.skip)('a failed trial on the native backend, with the fused kernels loaded', () => {
  let stack: Stack;
  beforeAll(async () => {
    nativeTests.assert();
    stack = await startStack('native-fail', {
      workers: 1,
      env: {
        LRSWEEP_BACKEND: 'tensorflow',
        WORKER_SLOTS: '1',
        LRSWEEP_FAULT_FAIL_SEED: '77',
        TRIAL_FAILURE_BUDGET: '1',
      },
    });
  }, 120_000);
  afterAll(async () => stack?.stop());

  it('fails only that trial: three trials after it complete on the same worker process', async () => {
    const spec = (name: string, seeds: number[]) =>
      tinySpec({ name, model: { kind: 'mlp', hidden: [16], activation: 'gelu' }, grid: { seeds } }) as never;
    const worker = stack.workers[0]!;
    const pid = worker.proc.pid;
    const finish = finishOrWorkerDies(stack, worker);
    const failing = await stack.lrsweep.submitSweep(spec('fails', [77]));
    expect(await finish(failing.id)).toBe('finished');
    const [failed] = (await stack.lrsweep.listTrials(failing.id)).trials;
    expect(failed).toMatchObject({
      status: 'failed',
      backend: 'tensorflow',
      provenance: { hardware: { fusedKernels: true } },
    });
    expect(failed!.error).toMatch(/fault injection/);
    const after = await stack.lrsweep.submitSweep(spec('after', [1, 2, 3]));
    expect(await finish(after.id)).toBe('finished');
    const { trials } = await stack.lrsweep.listTrials(after.id);
    expect(trials.map((t) => [t.status, t.backend])).toEqual(Array(3).fill(['completed', 'tensorflow']));
    // The same process trained them all: it never exited, and it restarted its thread for them.
    expect(worker.proc.exitCode).toBeNull();
    expect(worker.proc.signalCode).toBeNull();
    expect(worker.proc.pid).toBe(pid);
    expect(worker.lines.filter((l) => l.msg === 'training thread ready').length).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
