// Each slot trains in a trainer process of its own (apps/worker/src/train-child.ts): an abort or an
// out-of-memory in TensorFlow ends that process and fails one trial, never the worker; and a worker
// killed with -9 leaves no trainer behind, training on.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  finishOrWorkerDies,
  nativeBackendMissing,
  nativeBackendTests,
  type Stack,
  startApp,
  startStack,
  tinySpec,
} from '@lrsweep/testkit';

const nativeTests = nativeBackendTests(nativeBackendMissing());
const small = (name: string, seeds: number[]) =>
  tinySpec({ name, model: { kind: 'mlp', hidden: [16], activation: 'gelu' }, grid: { seeds } }) as never;

/** The trainer processes a worker started, from its log ('training thread ready', with their pids). */
const trainerPids = (lines: Record<string, unknown>[]) =>
  lines.filter((l) => l.msg === 'training thread ready' && typeof l.pid === 'number').map((l) => l.pid as number);

/** Whether a process still runs (a zombie, dead but not yet reaped by whoever adopted it, does not). */
const alive = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
};

/** The processes whose parent is `pid` (from /proc: a stat's fourth field). */
const childrenOf = (pid: number) =>
  readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]?.split(' ')[1] === String(pid);
      } catch {
        return false;
      }
    })
    .map(Number);

describe.skipIf(nativeTests.skip)('a trial that aborts or runs out of memory', () => {
  let stack: Stack;
  beforeAll(async () => {
    nativeTests.assert();
    stack = await startStack('trainer-process', {
      workers: 1,
      env: {
        LRSWEEP_BACKEND: 'tensorflow',
        WORKER_SLOTS: '1',
        // Test hooks: trials of seed 66 abort their trainer; the estimate is shrunk a thousandfold,
        // so a trial too big for the slot gets past the refusal and meets TF's allocator cap.
        LRSWEEP_FAULT_ABORT_SEED: '66',
        LRSWEEP_TEST_ESTIMATE_SCALE: '0.001',
        WORKER_SLOT_MEMORY_MB: '256',
        TRIAL_FAILURE_BUDGET: '1',
      },
    });
  }, 120_000);
  afterAll(async () => stack?.stop());

  it('fails only that trial, naming the backend, and the same worker process trains on', async () => {
    const worker = stack.workers[0]!;
    const pid = worker.proc.pid;
    const finish = finishOrWorkerDies(stack, worker);

    const aborting = await stack.lrsweep.submitSweep(small('aborts', [66]));
    expect(await finish(aborting.id)).toBe('finished');
    const [aborted] = (await stack.lrsweep.listTrials(aborting.id)).trials;
    expect(aborted).toMatchObject({ status: 'failed', errorCode: 'WORKER_CRASHED' });
    expect(aborted!.error).toMatch(/the last: the training process \(tensorflow backend\) was killed by SIGABRT: /);
    // Its stderr's last words reach the trial's error.
    expect(aborted!.error).toMatch(/LRSWEEP_FAULT_ABORT_SEED/);

    // About 20 M parameters with Adam: over 256 MiB for weights and optimizer state alone.
    const big = await stack.lrsweep.submitSweep(
      tinySpec({ name: 'too-big', model: { kind: 'mlp', hidden: [4096, 4096], activation: 'relu' } }) as never,
    );
    expect(await finish(big.id)).toBe('finished');
    const [oom] = (await stack.lrsweep.listTrials(big.id)).trials;
    expect(oom).toMatchObject({ status: 'failed', errorCode: 'RESOURCE_EXHAUSTED' });
    // Terminal: one attempt, no retry (another would run out the same way).
    expect(oom!.error).not.toMatch(/^failed after/);
    expect(oom!.error).toMatch(/more memory than the tensorflow backend has/);
    expect(oom!.error).toMatch(/OOM when allocating|ran out of memory/);

    // On wasm, which has no allocator cap, the worker's watchdog ends the trainer once its memory
    // passes the slot's budget (and headroom): about 40 M parameters with Adam.
    const huge = await stack.lrsweep.submitSweep(
      tinySpec({
        name: 'too-big-wasm',
        model: { kind: 'mlp', hidden: [8192, 4096], activation: 'relu' },
        training: { backend: 'wasm' },
      }) as never,
    );
    expect(await finish(huge.id)).toBe('finished');
    const [watched] = (await stack.lrsweep.listTrials(huge.id)).trials;
    expect(watched).toMatchObject({ status: 'failed', errorCode: 'RESOURCE_EXHAUSTED' });
    expect(watched!.error).toMatch(
      /^the trial used \d+ MiB on the wasm backend, over the \d+ MiB its training process may hold \(256 MiB a slot, WORKER_SLOT_MEMORY_MB/,
    );

    const after = await stack.lrsweep.submitSweep(small('after', [1, 2, 3]));
    expect(await finish(after.id)).toBe('finished');
    const { trials } = await stack.lrsweep.listTrials(after.id);
    expect(trials.map((t) => [t.status, t.backend])).toEqual(Array(3).fill(['completed', 'tensorflow']));
    expect(worker.proc.exitCode).toBeNull();
    expect(worker.proc.signalCode).toBeNull();
    expect(worker.proc.pid).toBe(pid);
    // A fresh trainer after each failure; the dead ones are gone.
    const trainers = trainerPids(worker.lines);
    expect(trainers.length).toBeGreaterThanOrEqual(4);
    expect(trainers.slice(0, -1).filter(alive)).toEqual([]);
  }, 240_000);
});

describe('a worker killed with -9 mid-trial', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('trainer-orphan', { workers: 1, env: { WORKER_SLOTS: '1' } });
  }, 120_000);
  afterAll(async () => stack?.stop());

  it('leaves no trainer process training on (a trainer has its own process group and a raised OOM score)', async () => {
    const worker = stack.workers[0]!;
    const created = await stack.lrsweep.submitSweep(
      tinySpec({ name: 'orphan', dataset: { trainSize: 2000 }, training: { epochs: 200 } }) as never,
    );
    await worker.waitFor((l) => l.msg === 'trial backend' && l.sweepId === created.id, 60_000);
    const [trainer] = trainerPids(worker.lines);
    expect(trainer).toBeDefined();
    expect(alive(trainer!)).toBe(true);
    // Its own process group (a terminal's Ctrl-C reaches the worker alone, which stops it in
    // order), and first in line for the kernel's OOM killer.
    const pgrp = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[2];
    expect(pgrp(trainer!)).not.toBe(pgrp(worker.proc.pid!));
    expect(pgrp(trainer!)).toBe(String(trainer));
    expect(Number(readFileSync(`/proc/${trainer}/oom_score_adj`, 'utf8'))).toBe(500);
    worker.proc.kill('SIGKILL');
    const deadline = Date.now() + 10_000;
    while (alive(trainer!) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(alive(trainer!), `trainer ${trainer} still running 10 s after its worker was killed`).toBe(false);
  }, 120_000);
});

describe('a worker killed with -9 while its trainer process still loads', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('trainer-early-orphan', { workers: 0 });
  }, 120_000);
  afterAll(async () => stack?.stop());

  it('leaves no trainer behind: the trainer exits once its worker is gone, loaded or not', async () => {
    const worker = startApp('worker', { ...stack.env, WORKER_ID: 'early-orphan', WORKER_SLOTS: '1' });
    const pid = worker.proc.pid!;
    // The trainer is forked as the worker starts; loading TensorFlow.js then takes it a second or more.
    let trainer: number | undefined;
    const deadline = Date.now() + 60_000;
    while (trainer === undefined && Date.now() < deadline) {
      trainer = childrenOf(pid)[0];
      if (trainer === undefined) await new Promise((r) => setTimeout(r, 5));
    }
    expect(trainer, 'the worker started no trainer process').toBeDefined();
    const loaded = () => worker.lines.some((l) => l.msg === 'training thread ready');
    const killedWhileLoading = !loaded();
    worker.proc.kill('SIGKILL');
    const gone = Date.now() + 15_000;
    while (alive(trainer!) && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
    expect(alive(trainer!), `trainer ${trainer} still running 15 s after its worker was killed`).toBe(false);
    // The case this is about: the worker died before its trainer said it was ready.
    expect(killedWhileLoading).toBe(true);
  }, 120_000);
});
