// One numerics key per sweep (the native-backend issue, item 2): the first worker to start a trial
// of a sweep records the backend and every setting under it (TF and TF.js versions, intra-op
// threads, oneDNN, fused kernels and their ISA copy) on the sweep; every trial, resume and fork then
// trains under that key, whatever another worker's probe would have chosen. A worker that cannot run
// the key leaves the sweep's trials to one that can, and the sweep view says when none can.
import {
  eventually,
  type FaultStack,
  learningSeries,
  nativeBackendMissing,
  nativeBackendTests,
  query,
  startFaultStack,
  tinySpec,
  trialSeries,
} from '@lrsweep/testkit';
import { createDb } from '@lrsweep/db';
import { claimTrial, recordCheckpoint, recordRunInfo, releaseTrial, settleSweepNumerics } from '@lrsweep/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const nativeTests = nativeBackendTests(nativeBackendMissing());

// 4 trials of T = 360 updates (2 000 samples less the default 10% validation split, batch 20, 4
// epochs), checkpointed every 10: worker a, training them one at a time, is killed in the first
// half of one while worker b (started once the key is recorded) comes up.
const T = 360;
const spec = (name: string, training: Record<string, unknown> = {}) =>
  tinySpec({
    name,
    dataset: { name: 'mnist', trainSize: 2000, testSize: 100 },
    model: { kind: 'lenet', activation: 'relu', pool: 'max' },
    training: { epochs: 4, batchSize: 20, evalEvery: 50, ...training },
    grid: { baseLr: [0.01, 0.03], schedule: [{ kind: 'cosine' }], seeds: 2 },
  });

interface NumericsView {
  id: string;
  key: { backend: string; intraOpThreads?: number; fusedKernels?: boolean; onednn?: boolean; tf?: string };
  reason: string;
  chosenBy: string;
}

describe.skipIf(nativeTests.skip)('one numerics key per sweep', () => {
  let stack: FaultStack;
  const worker = (id: string, env: Record<string, string> = {}) => stack.worker(id, env);
  let api: FaultStack['api'];
  const numericsOf = async (sweepId: string) =>
    (await api.get(`/v1/sweeps/${sweepId}`)).body.numerics as NumericsView | null;
  const unrunnableOf = async (sweepId: string) =>
    (await api.get(`/v1/sweeps/${sweepId}`)).body.unrunnable as string | null;
  const trialsOf = (sweepId: string) =>
    query<{ id: string; status: string; attempt: number; numerics: string | null; backend: string }>(
      stack.db.url,
      "SELECT id, status::text AS status, attempt, hardware->>'numerics' AS numerics, backend FROM trials WHERE sweep_id = $1 ORDER BY ordinal",
      [sweepId],
    );

  beforeAll(async () => {
    nativeTests.assert();
    stack = await startFaultStack('numerics', {
      checkpointEvery: 10,
      env: { WORKER_HEARTBEAT_MS: '500' },
      apiEnv: { WORKER_LOST_AFTER_MS: '3000' },
    });
    api = stack.api;
  }, 60_000);
  afterAll(async () => stack?.stop());

  it('trains every trial under the key the first worker recorded, on a worker whose probe disagrees and after a kill -9, bit for bit', async () => {
    // Worker a's probe picks the native backend; b's (started once the key is recorded) picks wasm.
    const a = await worker('a', { LRSWEEP_BACKEND: 'auto', LRSWEEP_TEST_PROBE_WINNER: 'tensorflow' });
    const created = await api.post('/v1/sweeps', spec('keyed'));
    expect(created.status).toBe(201);
    const sweepId = created.body.id as string;
    const key = await eventually('the key is recorded', () => numericsOf(sweepId), 60_000, 50);
    expect(key).toMatchObject({
      key: { backend: 'tensorflow', fusedKernels: true, onednn: true },
      chosenBy: 'a',
    });
    expect(await unrunnableOf(sweepId)).toBeNull();
    expect(key.reason).toMatch(
      /^probe \(lenet, batch 20\): tensorflow .* ms\/update, wasm .* ms\/update \(tensorflow forced/,
    );
    expect(key.key.tf).toMatch(/^2\.\d+/);
    expect(key.id).toContain('tensorflow cpu');
    // b starts meanwhile (its trainer process takes seconds to come up): a is killed whatever b's progress.
    const bStarting = worker('b', { LRSWEEP_BACKEND: 'auto', LRSWEEP_TEST_PROBE_WINNER: 'wasm' });

    // Kill a once a trial of its has a checkpoint and still trains: it resumes on b (or a restarted a).
    const victim = await eventually(
      'a trial of a checkpointed',
      async () =>
        (
          await query<{ id: string; checkpoint_step: number }>(
            stack.db.url,
            // In its first half: it is still training when the kill lands, however loaded the machine.
            "SELECT id, checkpoint_step FROM trials WHERE sweep_id = $1 AND worker_id = 'a' AND status = 'running' AND checkpoint_step IS NOT NULL AND checkpoint_step <= $2",
            [sweepId, T / 2],
          )
        )[0],
      60_000,
      20,
    );
    await a.stop('SIGKILL');
    const b = await bStarting;
    await api.waitForSweep(sweepId, 240_000);

    const trials = await trialsOf(sweepId);
    expect(trials.map((t) => t.status)).toEqual(Array(4).fill('completed'));
    // Every attempt of every trial, on either worker, trained under the key.
    expect(trials.every((t) => t.numerics === key.id && t.backend === 'tensorflow')).toBe(true);
    expect((await api.get(`/v1/trials/${trials[0]!.id}`)).body.provenance.hardware.numerics).toBe(key.id);
    const attempts = await query<{ backend: string; worker_id: string }>(
      stack.db.url,
      'SELECT a.backend, a.worker_id FROM trial_attempts a JOIN trials t ON t.id = a.trial_id WHERE t.sweep_id = $1 AND a.backend IS NOT NULL',
      [sweepId],
    );
    expect(new Set(attempts.map((x) => x.backend))).toEqual(new Set(['tensorflow']));
    // b, whose probe says wasm, trained under the key (at least the killed trial's resume).
    expect(attempts.some((x) => x.worker_id === 'b')).toBe(true);
    const victimAttempts = await query(
      stack.db.url,
      'SELECT attempt, worker_id, backend, outcome::text AS outcome FROM trial_attempts WHERE trial_id = $1 ORDER BY attempt',
      [victim.id],
    );
    expect(
      b.lines.find((l) => l.msg === 'resuming from checkpoint' && l.trialId === victim.id),
      `b resumed ${victim.id} (checkpointed at ${victim.checkpoint_step} when a was killed); its attempts: ${JSON.stringify(victimAttempts)}`,
    ).toBeTruthy();
    expect(b.lines.filter((l) => l.msg === 'trial backend').every((l) => l.numerics === key.id)).toBe(true);

    // The same spec again, uninterrupted, asking for the native backend: the same key, and every
    // trial (the killed and resumed one included) bit-identical to its twin.
    const twin = await api.post('/v1/sweeps', spec('twin', { backend: 'tensorflow' }));
    await api.waitForSweep(twin.body.id, 180_000);
    expect((await numericsOf(twin.body.id))?.id).toBe(key.id);
    const twins = await trialsOf(twin.body.id);
    for (const [i, t] of trials.entries()) {
      const [mine, theirs] = await Promise.all([
        trialSeries(stack.db.url, t.id),
        trialSeries(stack.db.url, twins[i]!.id),
      ]);
      expect(mine.updates.map((u) => u.step)).toEqual([...Array(T).keys()]);
      expect(learningSeries(mine), `trial ${i}${t.id === victim.id ? ' (killed and resumed)' : ''}`).toEqual(
        learningSeries(theirs),
      );
    }
    expect(trials.find((t) => t.id === victim.id)!.attempt).toBeGreaterThan(1);

    // Grown while only a wasm-only worker is live: the view says no live worker can run the key.
    await b.stop('SIGKILL');
    const wasmOnly = await worker('wasm-only', { LRSWEEP_BACKEND: 'wasm' });
    const grown = await api.post(`/v1/sweeps/${sweepId}/extend`, { seeds: [7] });
    expect(grown.status).toBe(200);
    const stuck = await eventually(
      'the view says no live worker can run the key',
      () => unrunnableOf(sweepId),
      20_000,
      200,
    );
    expect(stuck).toMatch(
      /none of the 1 live worker\(s\) of pool 'default' can train under this sweep’s numerics key \(they offer: wasm cpu/,
    );
    expect((await trialsOf(sweepId)).filter((t) => t.status === 'queued')).toHaveLength(2);
    // The wasm-only worker trained none of them; it goes (it would keep handing their deliveries
    // back), and a native worker comes and trains them under the key.
    expect(wasmOnly.lines.some((l) => l.msg === 'trial backend')).toBe(false);
    await wasmOnly.stop('SIGKILL');
    await worker('native', { LRSWEEP_BACKEND: 'tensorflow' });
    await api.waitForSweep(sweepId, 120_000);
    const all = await trialsOf(sweepId);
    expect(all.every((t) => t.status === 'completed' && t.numerics === key.id)).toBe(true);
    expect(await unrunnableOf(sweepId)).toBeNull();
  }, 480_000);

  it('records a key the spec fixes, and forks a WSD horizon on the native backend equal to its independent run', async () => {
    const wsd = (name: string, horizon: number[]) =>
      tinySpec({
        name,
        dataset: { name: 'mnist', trainSize: 1000, testSize: 100 },
        model: { kind: 'mlp', hidden: [32], dropout: 0.1 },
        training: { epochs: 1, batchSize: 20, evalEvery: 10, backend: 'tensorflow' },
        grid: {
          horizon,
          baseLr: [0.01],
          schedule: [{ kind: 'wsd', decayFraction: 0.2, decayShape: '1-sqrt', warmup: { steps: 5 } }],
          seeds: [3],
        },
      });
    await worker('forks', { LRSWEEP_BACKEND: 'tensorflow' });
    const forked = await api.post('/v1/sweeps', wsd('forked', [30, 60]));
    expect(forked.status, JSON.stringify(forked.body)).toBe(201);
    await api.waitForSweep(forked.body.id, 120_000);
    const key = await numericsOf(forked.body.id);
    expect(key).toMatchObject({
      key: { backend: 'tensorflow' },
      reason: 'the spec asks for tensorflow (training.backend)',
    });
    const independent = await api.post('/v1/sweeps', wsd('independent', [30]));
    await api.waitForSweep(independent.body.id, 120_000);
    const [fork] = await query<{ id: string; fork_step: number | null; numerics: string }>(
      stack.db.url,
      "SELECT id, fork_step, hardware->>'numerics' AS numerics FROM trials WHERE sweep_id = $1 AND total_steps = 30",
      [forked.body.id],
    );
    expect(fork!.fork_step).not.toBeNull();
    expect(fork!.numerics).toBe(key!.id);
    const [alone] = await trialsOf(independent.body.id);
    const [mine, theirs] = await Promise.all([
      trialSeries(stack.db.url, fork!.id),
      trialSeries(stack.db.url, alone!.id),
    ]);
    expect(mine.updates).toHaveLength(30);
    expect(learningSeries(mine)).toEqual(learningSeries(theirs));
  }, 240_000);

  it('records one key when workers propose at once: each proposer gets the winner', async () => {
    // A pool no worker serves: nothing claims its trial, so only the proposals below key it.
    const created = await api.post('/v1/sweeps', { ...spec('race'), runner: { kind: 'builtin', pool: 'nobody' } });
    const { prisma, close } = createDb({ url: stack.db.url });
    try {
      const keys = Array.from({ length: 8 }, (_, i) => ({
        key: { backend: 'tensorflow', gpu: false, tfjs: '4.22.0', intraOpThreads: i + 1 },
        reason: `proposal ${i}`,
        chosenBy: `w${i}`,
      }));
      const answers = await Promise.all(keys.map((k) => settleSweepNumerics(prisma, created.body.id, k)));
      expect(new Set(answers.map((a) => a.id)).size).toBe(1);
      expect(await numericsOf(created.body.id)).toEqual(answers[0]);
      // Recorded once: a later proposal changes nothing.
      const late = await settleSweepNumerics(prisma, created.body.id, { ...keys[0]!, chosenBy: 'late' });
      expect(late).toEqual(answers[0]);
    } finally {
      await close();
    }
  });

  it('allows a resume on another kind of CPU and marks it on the trial', async () => {
    const created = await api.post('/v1/sweeps', {
      ...tinySpec({ name: 'cpu-kinds' }),
      runner: { kind: 'builtin', pool: 'nobody' },
    });
    const [trial] = await trialsOf(created.body.id);
    const { prisma, close } = createDb({ url: stack.db.url });
    const runInfo = (cpuModel: string) => ({
      lrsweepVersion: 't',
      tfjsVersion: 't',
      backend: 'wasm',
      datasetChecksum: 'c',
      datasetPath: null,
      modelPath: null,
      hardware: { cpuModel, cpuCount: 2, gpu: null },
    });
    const hardware = async () =>
      (
        await query<{ hardware: Record<string, unknown> }>(stack.db.url, 'SELECT hardware FROM trials WHERE id = $1', [
          trial!.id,
        ])
      )[0]!.hardware;
    try {
      const first = await claimTrial(prisma, trial!.id, 'w1', 30_000);
      await recordRunInfo(prisma, trial!.id, first!.attempt, runInfo('CPU A'));
      expect(await hardware()).not.toHaveProperty('resumedFromCpuModel');
      expect(await recordCheckpoint(prisma, trial!.id, first!.attempt, 'x/ckpt', 2)).toBe(true);
      await releaseTrial(prisma, trial!.id, first!.attempt);
      const second = await claimTrial(prisma, trial!.id, 'w2', 30_000);
      await recordRunInfo(prisma, trial!.id, second!.attempt, runInfo('CPU B'));
      expect(await hardware()).toMatchObject({ cpuModel: 'CPU B', resumedFromCpuModel: 'CPU A' });
      // The trial view says so too.
      const view = (await api.get(`/v1/trials/${trial!.id}`)).body;
      expect(view.provenance.hardware).toMatchObject({ cpuModel: 'CPU B', resumedFromCpuModel: 'CPU A' });
      // The same kind of CPU again: nothing to mark.
      await releaseTrial(prisma, trial!.id, second!.attempt);
      const third = await claimTrial(prisma, trial!.id, 'w3', 30_000);
      await recordRunInfo(prisma, trial!.id, third!.attempt, runInfo('CPU B'));
      expect(await hardware()).not.toHaveProperty('resumedFromCpuModel');
    } finally {
      await close();
    }
  });
});
