"""PyTorch Lightning 2.x as an lrsweep trainer.

    from lrsweep.integrations.lightning import LrsweepCallback, optimizers, trainer_kwargs

    class Net(L.LightningModule):
        ...
        def configure_optimizers(self):
            return optimizers(self.trial, torch.optim.AdamW(self.parameters()))

    for trial in agent.trials():
        with trial:
            cb = LrsweepCallback(trial, checkpoint_dir)
            trainer = L.Trainer(callbacks=[cb], **trainer_kwargs(trial, accumulate_grad_batches=4))
            trainer.fit(Net(trial), train_loader, val_loader, ckpt_path=trial.checkpoint_uri)
            cb.finish(trainer, test_loader)

What it does for you:

- **The schedule**: ``optimizers`` gives Lightning the trial's scheduler at ``interval: "step"``,
  so every optimizer *update* runs at exactly lrsweep's rate (with ``accumulate_grad_batches``
  the schedule advances once per update). The rate reported is the optimizer's for that update
  (read in ``on_before_optimizer_step``), with the update's loss (the mean over its micro-batches).
- **The horizon and cadence** (``trainer_kwargs``): ``max_steps`` is ``T``; validation runs every
  ``evalEvery`` updates (``val_check_interval`` in batches: ``evalEvery × accumulate_grad_batches``,
  counted across epochs) and at ``T``. Logged names become lrsweep's: ``val/acc`` → ``val_acc``,
  ``val_accuracy`` → ``val_acc``; ``test_*`` once, at ``T``, from ``finish``'s test loader.
  An epoch's batches must be a multiple of ``accumulate_grad_batches`` (Lightning steps the
  optimizer at an epoch's end otherwise, and updates would not line up with batches).
- **Checkpoints**: after each validation before ``T`` the callback saves ``trainer.save_checkpoint``
  to ``checkpoint_dir`` and reports it as the marker ``N − 1`` (it holds N updates); pass
  ``ckpt_path=trial.checkpoint_uri`` to ``fit`` and a retried trial resumes there.
- **Stops**: a cancel, a deletion, a lost lease or SIGTERM sets ``trainer.should_stop``.
"""

import os

import torch
from lightning.pytorch.callbacks import Callback

__all__ = ["LrsweepCallback", "optimizers", "trainer_kwargs"]


def optimizers(trial, optimizer):
    """``configure_optimizers``' answer: the optimizer with the trial's schedule, stepped per update."""
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": trial.scheduler(optimizer), "interval": "step", "frequency": 1}}


def trainer_kwargs(trial, accumulate_grad_batches=1, **kwargs):
    """``lightning.Trainer`` keyword arguments for the trial's horizon and evaluation cadence; the
    rest (accelerator, precision, …) is yours through ``kwargs``."""
    for key in ("max_steps", "val_check_interval", "check_val_every_n_epoch"):
        if key in kwargs:
            raise ValueError("%s is the trial's (lrsweep sets it): leave it out" % key)
    args = {
        "max_steps": trial.total_steps,
        "max_epochs": -1,
        "accumulate_grad_batches": accumulate_grad_batches,
        "val_check_interval": trial.eval_every * accumulate_grad_batches,
        "check_val_every_n_epoch": None,
        "num_sanity_val_steps": 0,
        "log_every_n_steps": 1,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "logger": False,
    }
    args.update(kwargs)
    return args


def _name(key):
    name = key.replace("/", "_")
    return {"val_accuracy": "val_acc", "test_accuracy": "test_acc"}.get(name) or name


def _scalars(metrics, prefix):
    out = {}
    for k, v in metrics.items():
        name = _name(k)
        if name.startswith(prefix):
            try:
                out[name] = float(v)
            except (TypeError, ValueError):
                pass
    return out


class LrsweepCallback(Callback):
    """Reports a Lightning run's updates, validations and checkpoints to its trial, and stops the
    Trainer when the trial must stop."""

    def __init__(self, trial, checkpoint_dir):
        self.trial = trial
        self.checkpoint_dir = checkpoint_dir
        os.makedirs(checkpoint_dir, exist_ok=True)
        self._lr = None
        self._loss = 0.0
        self._micro = 0
        self._reported = trial.resume_step
        self._held = None

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self._lr = float(optimizer.param_groups[0]["lr"])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor):
            # Lightning hands each micro-batch's loss divided by accumulate_grad_batches: their sum
            # over an update is the update's mean loss.
            self._loss += float(loss.detach().item())
            self._micro += 1
        done = trainer.global_step
        if done > self._reported:
            self.trial.log(done - 1, loss=self._loss if self._micro else None, lr=self._lr)
            self._reported = done
            self._loss, self._micro = 0.0, 0
            if self.trial.should_stop or done >= self.trial.total_steps:
                # Stopping also runs the validation due at T (Lightning validates a stopping run).
                trainer.should_stop = True

    def on_validation_end(self, trainer, pl_module):
        if trainer.sanity_checking:
            return
        done = trainer.global_step
        T = self.trial.total_steps
        if done % self.trial.eval_every != 0 and done != T:
            if self.trial.should_stop:
                return
            raise RuntimeError(
                "validation ran after %d updates, not every %d: keep an epoch's batches a multiple of accumulate_grad_batches"
                % (done, self.trial.eval_every)
            )
        vals = _scalars(trainer.callback_metrics, "val_")
        if done >= T:
            self._held = vals  # reported with the test metrics by finish()
            return
        self.trial.evaluate(done, **vals)
        if not self.trial.should_stop:
            path = os.path.join(self.checkpoint_dir, "%s-a%d-step%d.ckpt" % (self.trial.id, self.trial.attempt, done))
            trainer.save_checkpoint(path)
            self.trial.checkpointed(done - 1, path)

    def finish(self, trainer, test_loader=None):
        """At the horizon: the last validation's metrics with the test loader's (``test_*``)."""
        if self.trial.should_stop or self._held is None:
            return
        metrics = dict(self._held)
        if test_loader is not None:
            results = trainer.test(trainer.lightning_module, dataloaders=test_loader, verbose=False)
            for r in results:
                metrics.update(_scalars(r, "test_"))
        self.trial.evaluate(self.trial.total_steps, **metrics)
        self._held = None
