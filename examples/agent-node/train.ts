// A TF.js trainer of your own, run by lrsweep through the Node agent SDK (@lrsweep/agent): it
// trains whatever trial of its pool it is handed, at the rate lrsweep sets for every update,
// and checkpoints so that a stopped or crashed trial resumes where it was.
//
//   LRSWEEP_API_URL=http://127.0.0.1:3000 LRSWEEP_TOKEN=<an agent token of pool tfjs> \
//     node --import tsx examples/agent-node/train.ts
//
// A sweep for it: {"name": "tfjs-mlp", "runner": {"kind": "external", "pool": "tfjs", "config": {"hidden": 32}},
//   "training": {"totalSteps": 300, "evalEvery": 50}, "grid": {"baseLr": [0.01, 0.03],
//   "schedule": [{"kind": "constant"}, {"kind": "linear"}], "seeds": 2}}
// The data is synthetic (from a fixed seed); put your own model and data in its place.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, type Trial } from '@lrsweep/agent';
import * as tf from '@tensorflow/tfjs';

const checkpointDir = process.env.CHECKPOINT_DIR ?? '/tmp/lrsweep-tfjs-checkpoints';
const checkpointEvery = Number(process.env.CHECKPOINT_EVERY ?? '100');
mkdirSync(checkpointDir, { recursive: true });

/** 2 classes in 10 features, from a fixed seed: training, validation and test tensors. */
function syntheticData() {
  return tf.tidy(() => {
    const x = tf.randomNormal([1200, 10], 0, 1, 'float32', 1234);
    const y = tf.cast(tf.greater(tf.sum(tf.mul(x, tf.linspace(-1, 1, 10)), 1), 0), 'float32').reshape([-1, 1]);
    const part = (a: number, b: number) => ({ x: x.slice([a, 0], [b - a, 10]), y: y.slice([a, 0], [b - a, 1]) });
    return { train: part(0, 1000), val: part(1000, 1100), test: part(1100, 1200) };
  });
}

function model(hidden: number, seed: number) {
  return tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [10],
        units: hidden,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed }),
      }),
      tf.layers.dense({
        units: 1,
        activation: 'sigmoid',
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
      }),
    ],
  });
}

const evaluate = (m: tf.Sequential, split: { x: tf.Tensor; y: tf.Tensor }) =>
  tf.tidy(() => {
    const p = m.predict(split.x) as tf.Tensor;
    const loss = tf.metrics.binaryCrossentropy(split.y, p).mean().dataSync()[0]!;
    const acc = tf.metrics.binaryAccuracy(split.y, p).mean().dataSync()[0]!;
    return { loss, acc };
  });

async function train(trial: Trial, data: ReturnType<typeof syntheticData>) {
  const m = model(Number(trial.config.hidden ?? 32), trial.seed);
  if (trial.checkpointUri)
    m.setWeights(
      (JSON.parse(readFileSync(trial.checkpointUri, 'utf8')) as number[][][]).map((w, i) =>
        tf.tensor(w.flat(), m.getWeights()[i]!.shape),
      ),
    );
  // Plain SGD, so the rate is an argument of each update: exactly trial.lr(step).
  for (let step = trial.resumeStep; step < trial.totalSteps; step++) {
    if (trial.shouldStop) return;
    const lr = await trial.lr(step);
    const loss = sgdStep(m, data, trial.seed, step, lr);
    trial.log(step, { loss, lr });
    const done = step + 1;
    if (done % trial.evalEvery === 0 || done === trial.totalSteps) {
      const v = evaluate(m, data.val);
      const metrics: Record<string, number> = { val_loss: v.loss, val_acc: v.acc };
      if (done === trial.totalSteps) {
        const t = evaluate(m, data.test);
        metrics.test_loss = t.loss;
        metrics.test_acc = t.acc;
      }
      await trial.evaluate(done, metrics);
    }
    // After the evaluation due at this step: a marker keeps everything reported before it. At a
    // fork point (trial.mustCheckpointAt: a shorter horizon resumes from here) too; this trainer
    // keeps every checkpoint file, as those must be kept.
    if ((done % checkpointEvery === 0 || trial.mustCheckpointAt.has(step)) && done < trial.totalSteps) {
      const path = join(checkpointDir, `${trial.id}-${step}.json`);
      writeFileSync(path, JSON.stringify(m.getWeights().map((w) => w.arraySync())));
      await trial.checkpointed(step, path);
    }
    if (done === trial.rung?.step) {
      // ASHA: judged at its rung from the checkpoint just saved; the trial waits there.
      await judgeAtRung(trial, m, data);
      break;
    }
  }
  m.dispose();
}

/** One SGD update on update `step`'s batch (drawn from the seed and the step) at rate `lr`: its loss. */
function sgdStep(m: tf.Sequential, data: ReturnType<typeof syntheticData>, seed: number, step: number, lr: number) {
  return tf.tidy(() => {
    const idx = tf.randomUniform([32], 0, 1000, 'int32', seed * 1_000_003 + step);
    const [x, y] = [tf.gather(data.train.x, idx), tf.gather(data.train.y, idx)];
    const { value, grads } = tf.variableGrads(
      () => tf.metrics.binaryCrossentropy(y, m.predict(x) as tf.Tensor).mean() as tf.Scalar,
    );
    for (const [name, g] of Object.entries(grads)) {
      const v = m.trainableWeights.map((w) => w.read() as tf.Variable).find((x) => x.name === name)!;
      v.assign(tf.sub(v, tf.mul(g, lr)));
    }
    return value.dataSync()[0]!;
  });
}

/**
 * The rung's annealed estimate: a short cooldown on from the rung's checkpoint, on the batches the
 * run would have seen next, at the rates lrsweep gives, then an evaluation. A promoted trial
 * resumes from the checkpoint file, untouched by this side branch.
 */
async function judgeAtRung(trial: Trial, m: tf.Sequential, data: ReturnType<typeof syntheticData>) {
  const at = trial.rung!.step;
  const cooldown = (await trial.rungCooldownLr()).map((lr, i) => ({
    lr,
    loss: sgdStep(m, data, trial.seed, at + i, lr),
  }));
  const v = evaluate(m, data.val);
  const status = await trial.reportRung(cooldown, { val_loss: v.loss, val_acc: v.acc });
  console.log(`trial ${trial.id} judged at its rung after ${at} updates: ${status}`);
}

await tf.setBackend('cpu');
const data = syntheticData();
const agent = new Agent({ pool: process.env.LRSWEEP_POOL ?? 'tfjs', framework: `tfjs ${tf.version.tfjs}` });
const idle = process.env.IDLE_TIMEOUT_MS;
for await (const trial of agent.trials({ idleTimeoutMs: idle ? Number(idle) : undefined })) {
  console.log(`trial ${trial.id} (attempt ${trial.attempt}) from update ${trial.resumeStep}`);
  await trial.run((t) => train(t, data));
}
console.log('no more trials');
