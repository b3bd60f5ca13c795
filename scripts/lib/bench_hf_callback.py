"""The Hugging Face Trainer with and without lrsweep, alternated (bench:hf, scripts/bench-hf-callback.ts).

One process, PAIRS pairs: each pair trains the same tiny GPT-2 for T updates twice, once as a
plain Trainer run (HF's own cosine schedule, a log per update, evaluation and a checkpoint every
EVAL_EVERY updates) and once as an lrsweep trial through the integration (the same cadence, the
trial's schedule, every update reported to the API and each checkpoint as a marker); the order
alternates between pairs. Prints one JSON line per run: the mode and trainer.train()'s wall time.
"""
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "transformers"))

import torch  # noqa: E402
from transformers import Trainer, TrainingArguments  # noqa: E402

import lrsweep  # noqa: E402
from lrsweep.integrations.transformers import train, training_args  # noqa: E402
from train import datasets, make_model  # noqa: E402  (the example's model and data)

torch.set_num_threads(1)
PAIRS = int(os.environ.get("BENCH_PAIRS", "5"))
T = int(os.environ["BENCH_STEPS"])
EVAL_EVERY = int(os.environ["BENCH_EVAL_EVERY"])
train_ds, val_ds, test_ds = datasets()
common = dict(per_device_train_batch_size=8, per_device_eval_batch_size=32, use_cpu=True, dataloader_num_workers=0)


class Seed:
    seed = 0
    config = {"width": 32}


def plain(out):
    args = TrainingArguments(
        output_dir=out, max_steps=T, learning_rate=0.003, lr_scheduler_type="cosine", seed=0, data_seed=0,
        logging_steps=1, eval_strategy="steps", eval_steps=EVAL_EVERY, save_strategy="steps", save_steps=EVAL_EVERY,
        report_to="none", disable_tqdm=True, **common,
    )
    trainer = Trainer(model=make_model(Seed()), args=args, train_dataset=train_ds, eval_dataset=val_ds)
    t0 = time.perf_counter()
    trainer.train()
    return time.perf_counter() - t0


agent = lrsweep.Agent(pool="bench-hf")
trials = agent.trials(max_trials=PAIRS, idle_timeout=30)


def with_lrsweep(out):
    trial = next(trials)
    with trial:
        args = training_args(trial, out, **common)
        trainer = Trainer(model=make_model(trial), args=args, train_dataset=train_ds, eval_dataset=val_ds)
        t0 = time.perf_counter()
        train(trial, trainer)
        return time.perf_counter() - t0


for pair in range(PAIRS):
    order = [("plain", plain), ("lrsweep", with_lrsweep)]
    if pair % 2:
        order.reverse()
    for mode, run in order:
        out = tempfile.mkdtemp(prefix="bench-hf-")
        seconds = run(out)
        shutil.rmtree(out, ignore_errors=True)
        print(json.dumps({"pair": pair, "mode": mode, "seconds": seconds}), flush=True)
agent.stop()
