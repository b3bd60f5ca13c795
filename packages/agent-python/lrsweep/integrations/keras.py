"""Keras 3 as an lrsweep trainer (any backend: JAX, TensorFlow or PyTorch).

    from lrsweep.integrations.keras import LrsweepCallback, TrialSchedule, fit_kwargs, resume, step_batches

    for trial in agent.trials():
        with trial:
            schedule = TrialSchedule(trial)
            model = make_model()
            model.compile(optimizer=keras.optimizers.AdamW(learning_rate=schedule), loss=…, metrics=["accuracy"])
            resume(trial, model)                                       # from the last marker, if any
            cb = LrsweepCallback(trial, checkpoint_dir, schedule, val_data=val, test_data=test)
            model.fit(step_batches(trial, batch_at), callbacks=[cb], **fit_kwargs(trial))

What it does for you:

- **The schedule**: ``TrialSchedule`` is a ``LearningRateSchedule`` whose rate at update ``s`` (the
  optimizer's ``iterations``) is the float64 rate lrsweep computes. Keras casts it to the
  variables' dtype (float32) when it applies it; the rate reported is the float64 value handed
  to the optimizer, which is what lrsweep checks (the float32 Keras applies is its rounding).
- **Updates**: ``step_batches`` feeds update ``s`` the batch ``batch_at(s)`` (deterministic in the
  step, so a resumed run trains on the same batches), and ``fit_kwargs`` runs exactly the updates
  left (``T`` minus the resume step) as one epoch. Each update's loss is reported (Keras logs a
  running mean; the callback takes it apart).
- **Evaluations** every ``evalEvery`` updates and at ``T`` on ``val_data`` (``loss`` → ``val_loss``,
  ``accuracy`` → ``val_acc``, any other metric ``val_<name>``), and ``test_*`` on ``test_data`` at
  ``T`` only.
- **Checkpoints**: ``model.save`` to ``<checkpoint_dir>/…step<N>.keras`` after each evaluation
  before ``T`` (the model, the optimizer's slots and its ``iterations``), reported as marker
  ``N − 1``; ``resume`` loads the last one into a compiled model.
- **Stops**: a cancel, a deletion, a lost lease or SIGTERM sets ``model.stop_training``.
"""

import os

import keras
import numpy as np

__all__ = ["LrsweepCallback", "TrialSchedule", "fit_kwargs", "resume", "step_batches"]


def _int(x):
    """A backend scalar (the optimizer's iterations) as a Python int."""
    return int(np.asarray(keras.ops.convert_to_numpy(x)).reshape(-1)[0])


class TrialSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The trial's schedule: update ``step``'s float64 rate (what ``trial.lr(step)`` gives)."""

    def __init__(self, trial):
        super().__init__()
        self.trial = trial
        #: The float64 rate handed to the optimizer for each update it was asked for.
        self.handed = {}

    def __call__(self, step):
        s = _int(step)
        s = min(max(s, 0), self.trial.total_steps - 1)
        rate = self.trial.lr(s)
        self.handed[s] = rate
        return rate

    def get_config(self):
        return {"trial": self.trial.id}


class _Steps(keras.utils.PyDataset):
    def __init__(self, trial, batch_at):
        super().__init__()
        self.start, self.end, self.batch_at = trial.resume_step, trial.total_steps, batch_at

    def __len__(self):
        return self.end - self.start

    def __getitem__(self, i):
        return self.batch_at(self.start + i)


def step_batches(trial, batch_at):
    """The updates left, as a dataset: item ``i`` is ``batch_at(resume_step + i)``."""
    return _Steps(trial, batch_at)


def fit_kwargs(trial):
    """``model.fit`` keyword arguments: the updates left, as one epoch, quietly."""
    return {"epochs": 1, "steps_per_epoch": trial.total_steps - trial.resume_step, "verbose": 0, "shuffle": False}


def resume(trial, model):
    """Loads the trial's last checkpoint (weights, optimizer slots, iterations) into a compiled model."""
    if trial.checkpoint_uri:
        model.optimizer.build(model.trainable_variables)
        model.load_weights(trial.checkpoint_uri)
        done = _int(model.optimizer.iterations)
        if done != trial.resume_step:
            raise RuntimeError("the checkpoint holds %d updates; the trial resumes at %d" % (done, trial.resume_step))


def _named(prefix, metrics):
    out = {}
    for k, v in metrics.items():
        name = {"loss": "loss", "accuracy": "acc", "acc": "acc", "sparse_categorical_accuracy": "acc"}.get(k, k)
        try:
            out["%s_%s" % (prefix, name)] = float(v)
        except (TypeError, ValueError):
            pass
    return out


class LrsweepCallback(keras.callbacks.Callback):
    """Reports a Keras run's updates, evaluations and checkpoints to its trial, and stops it when
    the trial must stop."""

    def __init__(self, trial, checkpoint_dir, schedule, val_data=None, test_data=None):
        super().__init__()
        self.trial = trial
        self.checkpoint_dir = checkpoint_dir
        self.schedule = schedule
        self.val_data = val_data
        self.test_data = test_data
        self._mean = 0.0
        os.makedirs(checkpoint_dir, exist_ok=True)

    @property
    def _fitted(self):
        model = self.model
        if model is None:
            raise RuntimeError("the callback is not attached to a model (pass it to model.fit)")
        return model

    def _evaluate(self, data):
        # evaluate() resets the metrics the training logs average: keep theirs across it.
        model = self._fitted
        saved = [[keras.ops.copy(v.value) for v in m.variables] for m in model.metrics]
        try:
            if isinstance(data, tuple):
                return model.evaluate(*data, verbose=0, return_dict=True)
            return model.evaluate(data, verbose=0, return_dict=True)
        finally:
            for m, values in zip(model.metrics, saved):
                for v, value in zip(m.variables, values):
                    v.assign(value)

    def on_train_batch_end(self, batch, logs=None):
        trial = self.trial
        step = trial.resume_step + batch
        mean = float((logs or {}).get("loss", float("nan")))
        # Keras logs the epoch's running mean: this update's loss is what moved it.
        loss = (batch + 1) * mean - batch * self._mean
        self._mean = mean
        rate = self.schedule.handed.get(step)
        trial.log(step, loss=loss, lr=rate if rate is not None else trial.lr(step))
        done, T = step + 1, trial.total_steps
        if trial.should_stop:
            self._fitted.stop_training = True
            return
        if done % trial.eval_every == 0 or done == T:
            metrics = {}
            if self.val_data is not None:
                metrics.update(_named("val", self._evaluate(self.val_data)))
            if done == T and self.test_data is not None:
                metrics.update(_named("test", self._evaluate(self.test_data)))
            trial.evaluate(done, **metrics)
            if done < T:
                path = os.path.join(self.checkpoint_dir, "%s-a%d-step%d.keras" % (trial.id, trial.attempt, done))
                self._fitted.save(path)
                trial.checkpointed(step, path)
