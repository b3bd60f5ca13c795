"""The Hugging Face ``Trainer`` as an lrsweep trainer.

    from lrsweep.integrations.transformers import training_args, train

    for trial in agent.trials():
        with trial:
            args = training_args(trial, output_dir, per_device_train_batch_size=8, gradient_accumulation_steps=4)
            trainer = Trainer(model=make_model(trial.seed), args=args, train_dataset=..., eval_dataset=...)
            train(trial, trainer, test_dataset=...)

What it does for you:

- **The schedule.** The Trainer's LR scheduler is the trial's (``trial.scheduler``): the rate of
  every optimizer *update* is exactly lrsweep's, with gradient accumulation too (the schedule
  advances once per update, not per micro-batch). The rate reported is the one the optimizer
  used for that update (read in ``on_optimizer_step``, before the scheduler steps), with the
  update's loss (``logging_steps=1``).
- **The horizon and cadence.** ``max_steps`` is the trial's ``T``; evaluations run every
  ``evalEvery`` updates and at ``T`` (the Trainer skips the last one by default); ``eval_*``
  metrics are reported as ``val_*`` (``eval_accuracy`` as ``val_acc``), and ``test_*`` once, at
  ``T``, from ``test_dataset``.
- **Checkpoints and resume.** A checkpoint is saved every ``save_every`` updates (default: each
  evaluation) and reported as the marker ``N − 1`` (``checkpoint-N`` holds N updates); a retried
  trial resumes with ``resume_from_checkpoint`` from the last marker. ``save_total_limit`` must be
  unset or at least 2 (the marker's checkpoint must outlive the next save).
- **Stops.** A cancel, a deletion, a lease lost or SIGTERM becomes ``should_training_stop``
  after a save where it can; leaving ``with trial`` then releases or ends the trial as the SDK does.
"""

import os

from transformers import TrainerCallback, TrainingArguments

__all__ = ["LrsweepCallback", "train", "training_args"]

# Keys of an evaluation that are timings, not metrics.
_TIMINGS = ("_runtime", "_samples_per_second", "_steps_per_second")


def training_args(trial, output_dir, **kwargs):
    """``TrainingArguments`` with the trial in charge of what it decides: the horizon (``max_steps``),
    the seed, the base rate, per-update logging, and evaluation and saving (driven by the callback).
    Everything else (batch size, gradient accumulation, precision …) is yours through ``kwargs``."""
    if kwargs.get("save_total_limit") is not None and kwargs["save_total_limit"] < 2:
        raise ValueError("save_total_limit must be unset or at least 2: the last marker's checkpoint must outlive the next save")
    for key in ("max_steps", "learning_rate", "seed", "lr_scheduler_type"):
        if key in kwargs:
            raise ValueError("%s is the trial's (lrsweep sets it): leave it out" % key)
    args = {
        "output_dir": output_dir,
        "max_steps": trial.total_steps,
        "learning_rate": trial.base_lr,
        "seed": trial.seed,
        "data_seed": trial.seed,
        "logging_strategy": "steps",
        "logging_steps": 1,
        "eval_strategy": "no",
        "save_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
    }
    args.update(kwargs)
    return TrainingArguments(**args)


def _val_name(key):
    name = "val_" + key[len("eval_") :]
    return "val_acc" if name == "val_accuracy" else name


class LrsweepCallback(TrainerCallback):
    """Reports a Trainer's updates, evaluations and checkpoints to its trial, and stops it when the
    trial must stop. ``train()`` adds it; add it yourself only to drive the Trainer otherwise."""

    def __init__(self, trial, trainer=None, test_dataset=None, save_every=None):
        self.trial = trial
        self.trainer = trainer
        self.test_dataset = test_dataset
        self.save_every = save_every or trial.eval_every
        self._lr = None
        self._last_logged = trial.resume_step
        self._held = None
        self._testing = False

    def on_optimizer_step(self, args, state, control, optimizer=None, **kwargs):
        # After optimizer.step(), before the scheduler's: the rate this update used.
        if optimizer is not None:
            self._lr = float(optimizer.param_groups[0]["lr"])

    def on_step_end(self, args, state, control, **kwargs):
        done, T = state.global_step, self.trial.total_steps
        if done % self.trial.eval_every == 0 or done == T:
            control.should_evaluate = True
        if done % self.save_every == 0 and done < T:
            control.should_save = True
        if self.trial.should_stop:
            # Keep what was trained where a checkpoint can still be reported, then stop.
            control.should_save = done < T
            control.should_training_stop = True

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" in logs and state.global_step > self._last_logged:
            step = state.global_step - 1
            self.trial.log(step, loss=logs["loss"], lr=self._lr if self._lr is not None else None)
            self._last_logged = state.global_step

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if self._testing or not metrics:
            return
        vals = {
            _val_name(k): float(v)
            for k, v in metrics.items()
            if k.startswith("eval_") and not k.endswith(_TIMINGS) and isinstance(v, (int, float))
        }
        if state.global_step >= self.trial.total_steps and self.test_dataset is not None:
            self._held = vals  # reported with the test metrics, once training has ended
            return
        self.trial.evaluate(state.global_step, **vals)

    def on_save(self, args, state, control, **kwargs):
        done = state.global_step
        if 0 < done < self.trial.total_steps:
            path = os.path.join(args.output_dir or "", "checkpoint-%d" % done)
            self.trial.checkpointed(done - 1, path)

    def finish(self):
        """At the horizon: the last evaluation with the test split's metrics (``test_*``)."""
        if self._held is None or self.trainer is None:
            return
        self._testing = True
        try:
            test = self.trainer.evaluate(self.test_dataset, metric_key_prefix="test")
        finally:
            self._testing = False
        metrics = dict(self._held)
        for k, v in test.items():
            if k.startswith("test_") and not k.endswith(_TIMINGS) and isinstance(v, (int, float)):
                metrics["test_acc" if k == "test_accuracy" else k] = float(v)
        self.trial.evaluate(self.trial.total_steps, **metrics)
        self._held = None


def train(trial, trainer, test_dataset=None, save_every=None):
    """Trains ``trainer`` as ``trial`` says (see the module's notes), resuming from the trial's
    last marker when it has one. Returns the Trainer's output, or None when the trial was stopped."""
    cb = LrsweepCallback(trial, trainer, test_dataset, save_every)
    trainer.add_callback(cb)

    def create_scheduler(num_training_steps, optimizer=None):
        if trainer.lr_scheduler is None:
            trainer.lr_scheduler = trial.scheduler(optimizer or trainer.optimizer)
        return trainer.lr_scheduler

    trainer.create_scheduler = create_scheduler
    out = trainer.train(resume_from_checkpoint=trial.checkpoint_uri or None)
    if trial.should_stop:
        return None
    cb.finish()
    return out
