"""A Keras 3 trainer run by lrsweep (any backend; KERAS_BACKEND=torch here): a small MLP classifies
synthetic data (made from a fixed seed: nothing is downloaded) at the rate lrsweep sets for every
update, with .keras checkpoints it resumes from, and the horizon's test metrics.

    pip install keras torch packages/agent-python
    KERAS_BACKEND=torch LRSWEEP_API_URL=http://127.0.0.1:3000 LRSWEEP_TOKEN=<an agent token of pool keras-cpu> \\
      python examples/keras/train.py

with a sweep such as examples/keras/spec.json. Put your own model in place of ``make_model`` and
your own batches in place of ``batch_at`` (deterministic in the update: a resumed trial trains on
the same batches); the lrsweep part is the schedule, the callback, ``resume`` and ``fit_kwargs``.

Environment: LRSWEEP_POOL (keras-cpu), CHECKPOINT_DIR (on storage every agent sees), IDLE_TIMEOUT,
BATCH_SIZE (16).
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import lrsweep  # noqa: E402
from lrsweep.integrations.keras import LrsweepCallback, TrialSchedule, fit_kwargs, resume, step_batches  # noqa: E402

CHECKPOINT_DIR = os.environ.get("CHECKPOINT_DIR", "/tmp/lrsweep-keras-checkpoints")
BATCH = int(os.environ.get("BATCH_SIZE", "16"))

rng = np.random.default_rng(1234)
CENTERS = rng.normal(size=(4, 16)) * 2
Y = rng.integers(0, 4, 2400)
X = (CENTERS[Y] + rng.normal(size=(2400, 16))).astype("float32")
TRAIN, VAL, TEST = slice(0, 1600), slice(1600, 2000), slice(2000, 2400)


def make_model(trial):
    keras.utils.set_random_seed(trial.seed)
    width = int(trial.config.get("width", 32))
    return keras.Sequential([keras.Input((16,)), keras.layers.Dense(width, activation="relu"), keras.layers.Dense(4)])


def main():
    agent = lrsweep.Agent(pool=os.environ.get("LRSWEEP_POOL", "keras-cpu"))
    idle = os.environ.get("IDLE_TIMEOUT")
    for trial in agent.trials(idle_timeout=float(idle) if idle else None):
        print("claimed %s attempt %d from %d" % (trial.id, trial.attempt, trial.resume_step), flush=True)

        def batch_at(step, seed=trial.seed):
            # The batch of update `step`: drawn from (seed, step), the same on a resumed run.
            pick = np.random.default_rng(seed * 1_000_003 + step).integers(TRAIN.start, TRAIN.stop, BATCH)
            return X[pick], Y[pick]

        try:
            with trial:
                schedule = TrialSchedule(trial)
                model = make_model(trial)
                model.compile(
                    optimizer=keras.optimizers.AdamW(learning_rate=schedule, weight_decay=float(trial.config.get("weight_decay", 0.0))),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["accuracy"],
                    jit_compile=False,
                )
                resume(trial, model)
                cb = LrsweepCallback(
                    trial,
                    os.path.join(CHECKPOINT_DIR, trial.id),
                    schedule,
                    val_data=(X[VAL], Y[VAL]),
                    test_data=(X[TEST], Y[TEST]),
                )
                model.fit(step_batches(trial, batch_at), callbacks=[cb], **fit_kwargs(trial))
                print("%s %s" % ("stopped" if trial.should_stop else "finished", trial.id), flush=True)
        except lrsweep.LrsweepError as e:
            print("trial %s ended: %s" % (trial.id, e.code), flush=True)
    print("agent done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
