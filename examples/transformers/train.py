"""A Hugging Face Trainer run by lrsweep: a tiny GPT-2 (built from a config: nothing is
downloaded) learns the bytes of a local text file, at the rate lrsweep sets for every optimizer
update, with gradient accumulation, checkpoints it resumes from, and the horizon's evaluation.

    pip install torch transformers accelerate packages/agent-python
    LRSWEEP_API_URL=http://127.0.0.1:3000 LRSWEEP_TOKEN=<an agent token of pool hf-cpu> \\
      python examples/transformers/train.py

with a sweep such as examples/transformers/spec.json. Put your own model and datasets in place of
``make_model`` and ``datasets``; the lrsweep part is ``training_args`` and ``train``.

Environment: LRSWEEP_POOL (hf-cpu), CHECKPOINT_DIR (on storage every agent sees), IDLE_TIMEOUT,
TEXT_FILE (default: the repository's README), GRAD_ACCUM (4), BATCH_SIZE (8).
"""
import os
import sys

import torch
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, set_seed

import lrsweep
from lrsweep.integrations.transformers import train, training_args

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))
HERE = os.path.dirname(os.path.abspath(__file__))
TEXT_FILE = os.environ.get("TEXT_FILE", os.path.join(HERE, "..", "..", "README.md"))
CHECKPOINT_DIR = os.environ.get("CHECKPOINT_DIR", "/tmp/lrsweep-hf-checkpoints")
CONTEXT = 32


class Windows(torch.utils.data.Dataset):
    """Byte windows of the text: each sample's labels are its inputs (GPT-2 shifts them)."""

    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data) // CONTEXT

    def __getitem__(self, i):
        x = torch.tensor(list(self.data[i * CONTEXT : (i + 1) * CONTEXT]), dtype=torch.long)
        return {"input_ids": x, "labels": x}


def datasets():
    with open(TEXT_FILE, "rb") as f:
        data = f.read()[:60_000]
    a, b = int(len(data) * 0.8), int(len(data) * 0.9)
    return Windows(data[:a]), Windows(data[a:b]), Windows(data[b:])


def make_model(trial):
    set_seed(trial.seed)
    width = int(trial.config.get("width", 32))
    return GPT2LMHeadModel(GPT2Config(vocab_size=256, n_positions=CONTEXT, n_embd=width, n_layer=2, n_head=2))


def main():
    train_ds, val_ds, test_ds = datasets()
    agent = lrsweep.Agent(pool=os.environ.get("LRSWEEP_POOL", "hf-cpu"))
    idle = os.environ.get("IDLE_TIMEOUT")
    for trial in agent.trials(idle_timeout=float(idle) if idle else None):
        print("claimed %s attempt %d from %d" % (trial.id, trial.attempt, trial.resume_step), flush=True)
        try:
            with trial:
                args = training_args(
                    trial,
                    os.path.join(CHECKPOINT_DIR, trial.id),
                    per_device_train_batch_size=int(os.environ.get("BATCH_SIZE", "8")),
                    per_device_eval_batch_size=32,
                    gradient_accumulation_steps=int(os.environ.get("GRAD_ACCUM", "4")),
                    weight_decay=float(trial.config.get("weight_decay", 0.0)),
                    use_cpu=not torch.cuda.is_available(),
                    dataloader_num_workers=0,
                )
                trainer = Trainer(model=make_model(trial), args=args, train_dataset=train_ds, eval_dataset=val_ds)
                out = train(trial, trainer, test_dataset=test_ds)
                print("%s %s" % ("finished" if out is not None else "stopped", trial.id), flush=True)
        except lrsweep.LrsweepError as e:
            print("trial %s ended: %s" % (trial.id, e.code), flush=True)
    print("agent done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
