// An ASHA rung pauses a run at its budget and judges it. Two properties make that fair and
// lossless: the annealed estimate is exactly what the same configuration would reach with a
// cooldown from there (a wsd run of that length), and a promoted run, resumed from the rung's
// checkpoint, is bit-identical to one that never paused. Tiny shapes, wasm.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type EvalRecord,
  selectBackend,
  synthetic,
  type TrainConfig,
  type TrainerState,
  train,
  type UpdateRecord,
} from './index';

beforeAll(async () => {
  await selectBackend('wasm');
});

const data = synthetic({ trainSize: 128, testSize: 32 });
const cfg = (schedule: TrainConfig['schedule'], horizon: number): TrainConfig => ({
  model: { kind: 'mlp', hidden: [16], activation: 'relu', dropout: 0.2 },
  optimizer: { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
  training: { epochs: 1, batchSize: 16, evalEvery: 4, totalSteps: horizon },
  baseLr: 0.01,
  schedule,
  seed: 5,
});

function run(c: TrainConfig, opts: Parameters<typeof train>[3] = {}) {
  const updates: UpdateRecord[] = [];
  const evals: EvalRecord[] = [];
  const checkpoints: TrainerState[] = [];
  const result = train(
    c,
    data,
    { onUpdate: (u) => updates.push(u), onEval: (e) => evals.push(e), onCheckpoint: (s) => checkpoints.push(s) },
    opts,
  );
  return { updates, evals, checkpoints, result };
}

describe('a run at an ASHA rung', () => {
  it('pauses after exactly the rung budget, checkpointed there; the annealed estimate is a wsd cooldown of that length', () => {
    const paused = run(cfg({ kind: 'constant' }, 40), {
      rung: { step: 12, metric: 'val_loss', estimate: { steps: 6, shape: 'linear' } },
    });
    expect(paused.result.status).toBe('paused');
    expect(paused.result.stepsDone).toBe(12);
    expect(paused.updates).toHaveLength(12);
    expect(paused.checkpoints.at(-1)!.step).toBe(12);
    expect(paused.result.rung).toMatchObject({ step: 12, cooldownSteps: 6 });
    // Constant for 12 updates then 6 decaying linearly to zero: wsd with decaySteps 6 over 18.
    const cooled = run(cfg({ kind: 'wsd', decaySteps: 6, decayShape: 'linear', minFactor: 0 }, 18));
    expect(paused.result.rung!.value).toBe(cooled.result.finalValLoss);
    // The cooldown's updates are the estimate's own: none reach the trial's rows.
    expect(paused.updates.map((u) => u.step)).toEqual([...Array(12).keys()]);
  });

  it('raw: the metric at the rung as the run stands', () => {
    const straight = run(cfg({ kind: 'cosine', minFactor: 0 }, 40));
    const paused = run(cfg({ kind: 'cosine', minFactor: 0 }, 40), {
      rung: { step: 12, metric: 'val_loss', estimate: 'raw' },
    });
    expect(paused.result.rung).toEqual({
      step: 12,
      value: straight.evals.find((e) => e.step === 12)!.valLoss,
      cooldownSteps: 0,
    });
  });

  it('a promoted run resumed from the rung checkpoint is bit-identical to one that never paused', () => {
    const schedule: TrainConfig['schedule'] = { kind: 'cosine', minFactor: 0, warmup: { steps: 3, startFactor: 0 } };
    const straight = run(cfg(schedule, 40));
    const first = run(cfg(schedule, 40), {
      rung: { step: 10, metric: 'val_loss', estimate: { steps: 3, shape: 'cosine' } },
    });
    const second = run(cfg(schedule, 40), {
      resume: first.checkpoints.at(-1)!,
      rung: { step: 30, metric: 'val_loss', estimate: { steps: 5, shape: '1-sqrt' } },
    });
    const last = run(cfg(schedule, 40), { resume: second.checkpoints.at(-1)! });
    expect(last.result.status).toBe('completed');
    expect([...first.updates, ...second.updates, ...last.updates]).toEqual(straight.updates);
    expect([...first.evals, ...second.evals, ...last.evals]).toEqual(straight.evals);
    expect(last.result.finalValLoss).toBe(straight.result.finalValLoss);
  });

  it('an estimate whose cooldown diverges has no value', () => {
    // One update at 1e-3 (warmup from 1e-9·η), then the cooldown starts at η = 1e6: it explodes.
    const c = {
      ...cfg({ kind: 'constant', warmup: { steps: 1, startFactor: 1e-9 } }, 40),
      baseLr: 1e6,
      divergenceFactor: 10,
    };
    const paused = run(c, { rung: { step: 1, metric: 'val_loss', estimate: { steps: 4, shape: 'linear' } } });
    expect(paused.result.status).toBe('paused');
    expect(paused.result.rung!.value).toBeNull();
  });
});
