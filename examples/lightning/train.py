"""A PyTorch Lightning trainer run by lrsweep: a small MLP classifies synthetic data (made from a
fixed seed: nothing is downloaded), at the rate lrsweep sets for every optimizer update, with
gradient accumulation, checkpoints it resumes from, and the horizon's test metrics.

    pip install torch lightning packages/agent-python
    LRSWEEP_API_URL=http://127.0.0.1:3000 LRSWEEP_TOKEN=<an agent token of pool lightning-cpu> \\
      python examples/lightning/train.py

with a sweep such as examples/lightning/spec.json. Put your own LightningModule and loaders in
place of ``Net`` and ``loaders``; the lrsweep part is ``optimizers``, ``trainer_kwargs`` and the callback.

Environment: LRSWEEP_POOL (lightning-cpu), CHECKPOINT_DIR (on storage every agent sees),
IDLE_TIMEOUT, GRAD_ACCUM (4), BATCH_SIZE (16).
"""
import os
import sys

import lightning as L
import torch
import torch.nn.functional as F

import lrsweep
from lrsweep.integrations.lightning import LrsweepCallback, optimizers, trainer_kwargs

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))
CHECKPOINT_DIR = os.environ.get("CHECKPOINT_DIR", "/tmp/lrsweep-lightning-checkpoints")
ACCUM = int(os.environ.get("GRAD_ACCUM", "4"))
BATCH = int(os.environ.get("BATCH_SIZE", "16"))


def loaders():
    g = torch.Generator().manual_seed(1234)
    centers = torch.randn(4, 16, generator=g) * 2
    y = torch.randint(0, 4, (2400,), generator=g)
    x = centers[y] + torch.randn(2400, 16, generator=g)
    ds = lambda a, b: torch.utils.data.TensorDataset(x[a:b], y[a:b])  # noqa: E731
    # 1 600 training samples: 100 batches of 16, a multiple of the accumulation (see the module notes).
    train = torch.utils.data.DataLoader(ds(0, 1600), batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(0))
    return train, torch.utils.data.DataLoader(ds(1600, 2000), batch_size=200), torch.utils.data.DataLoader(ds(2000, 2400), batch_size=200)


class Net(L.LightningModule):
    def __init__(self, trial):
        super().__init__()
        self.trial = trial
        width = int(trial.config.get("width", 32))
        self.net = torch.nn.Sequential(torch.nn.Linear(16, width), torch.nn.ReLU(), torch.nn.Linear(width, 4))

    def training_step(self, batch, _):
        x, y = batch
        return F.cross_entropy(self.net(x), y)

    def _measure(self, batch, split):
        x, y = batch
        logits = self.net(x)
        self.log("%s/loss" % split, F.cross_entropy(logits, y))
        self.log("%s/acc" % split, (logits.argmax(1) == y).float().mean())

    def validation_step(self, batch, _):
        self._measure(batch, "val")

    def test_step(self, batch, _):
        self._measure(batch, "test")

    def configure_optimizers(self):
        wd = float(self.trial.config.get("weight_decay", 0.0))
        return optimizers(self.trial, torch.optim.AdamW(self.parameters(), weight_decay=wd))


def main():
    train_loader, val_loader, test_loader = loaders()
    agent = lrsweep.Agent(pool=os.environ.get("LRSWEEP_POOL", "lightning-cpu"))
    idle = os.environ.get("IDLE_TIMEOUT")
    for trial in agent.trials(idle_timeout=float(idle) if idle else None):
        print("claimed %s attempt %d from %d" % (trial.id, trial.attempt, trial.resume_step), flush=True)
        try:
            with trial:
                L.seed_everything(trial.seed, verbose=False)
                cb = LrsweepCallback(trial, os.path.join(CHECKPOINT_DIR, trial.id))
                trainer = L.Trainer(callbacks=[cb], accelerator="auto", devices=1, **trainer_kwargs(trial, accumulate_grad_batches=ACCUM))
                trainer.fit(Net(trial), train_loader, val_loader, ckpt_path=trial.checkpoint_uri)
                cb.finish(trainer, test_loader)
                print("%s %s" % ("stopped" if trial.should_stop else "finished", trial.id), flush=True)
        except lrsweep.LrsweepError as e:
            print("trial %s ended: %s" % (trial.id, e.code), flush=True)
    print("agent done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
