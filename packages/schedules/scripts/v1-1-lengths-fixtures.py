"""Writes src/fixtures/v1.1-lengths.json: schedules whose lengths are given as fractions of the
horizon, in epochs, or that change once per epoch (SCHEDULES.md v1.1), each with the rate of
every update as PyTorch's schedulers give it for the lengths resolved by hand (ceil(f·H),
ceil(e·S)), stepped once per update, or once per epoch where the case says so.

    .venv-torch/bin/python packages/schedules/scripts/v1-1-lengths-fixtures.py
"""
import json
import math
import os

import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, ExponentialLR, LambdaLR, LinearLR, MultiStepLR, SequentialLR, StepLR


def run(make, base_lr, updates, per_epoch=None):
    """The rate of each of `updates` updates; with `per_epoch` = S, the scheduler steps once
    per epoch (every S updates), as D2L and most PyTorch training loops do."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    sched = make(opt)
    out = []
    for t in range(updates):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        if per_epoch is None or (t + 1) % per_epoch == 0:
            sched.step()
    return out


cases = []


def case(name, spec, base_lr, T, S, lr, about):
    cases.append({"name": name, "about": about, "schedule": spec, "baseLr": base_lr, "totalSteps": T, "stepsPerEpoch": S, "lr": lr})


# A warmup of a tenth of training, then cosine to 0 over the rest (HF: warmup_ratio 0.1; ceil(0.1·100) = 10).
T, W = 100, math.ceil(0.1 * 100)
case(
    "warmup-fraction-cosine",
    {"kind": "cosine", "warmup": {"steps": {"fraction": 0.1}}},
    0.1,
    T,
    None,
    run(lambda o: LambdaLR(o, lambda s: s / W if s < W else 0.5 * (1 + math.cos(math.pi * (s - W) / (T - W)))), 0.1, T),
    "HF get_cosine_schedule_with_warmup(10, 100); warmup_ratio 0.1",
)
# 0.07 of 100 is 7.000000000000001 in float64: ceil gives 8, as Hugging Face's warmup_ratio does.
W = math.ceil(0.07 * 100)
assert W == 8
case(
    "warmup-fraction-rounds-up",
    {"kind": "linear", "warmup": {"steps": {"fraction": 0.07}}},
    0.01,
    T,
    None,
    run(lambda o: LambdaLR(o, lambda s: s / W if s < W else max(0.0, (T - s) / (T - W))), 0.01, T),
    "HF get_linear_schedule_with_warmup(8, 100)",
)
# StepLR every 2 epochs of 5 updates (stepSize {epochs: 2} = 10 updates).
case("step-in-epochs", {"kind": "step", "stepSize": {"epochs": 2}, "gamma": 0.5}, 0.2, 40, 5, run(lambda o: StepLR(o, step_size=10, gamma=0.5), 0.2, 40), "StepLR(step_size=10)")
# D2L: cosine over 5 epochs of 7 updates, the scheduler stepped once per epoch (interval: epoch).
case(
    "cosine-per-epoch",
    {"kind": "cosine", "interval": "epoch"},
    0.3,
    35,
    7,
    run(lambda o: CosineAnnealingLR(o, T_max=5), 0.3, 35, per_epoch=7),
    "CosineAnnealingLR(T_max=5 epochs), scheduler.step() once per epoch",
)
# D2L's MultiFactor / MultiStepLR at epochs 2 and 4, stepped once per epoch of 10 updates.
case(
    "multistep-epochs-per-epoch",
    {"kind": "multistep", "milestones": [{"epochs": 2}, {"epochs": 4}], "gamma": 0.1, "interval": "epoch"},
    0.5,
    60,
    10,
    run(lambda o: MultiStepLR(o, milestones=[2, 4], gamma=0.1), 0.5, 60, per_epoch=10),
    "MultiStepLR(milestones=[2, 4] epochs), stepped once per epoch",
)
# Exponential decay to 1% over the horizon, floored at 5% (D2L's stop_factor_lr): gamma = 0.01^(1/50).
g = 0.01 ** (1 / 50)
raw = run(lambda o: ExponentialLR(o, gamma=g), 0.2, 50)
case(
    "exponential-end-factor-floor",
    {"kind": "exponential", "endFactor": 0.01, "minFactor": 0.05},
    0.2,
    50,
    None,
    [max(v, 0.2 * 0.05) for v in raw],
    "ExponentialLR(gamma=0.01**(1/50)), never below 0.05·η (D2L stop_factor_lr)",
)
# A linear warmup for a fifth of training, then cosine (SequentialLR; milestone ceil(0.2·50) = 10).
case(
    "sequential-fraction-milestone",
    {"kind": "sequential", "parts": [{"kind": "linear", "startFactor": 0.1, "endFactor": 1}, {"kind": "cosine"}], "milestones": [{"fraction": 0.2}]},
    0.1,
    50,
    None,
    run(lambda o: SequentialLR(o, [LinearLR(o, start_factor=0.1, total_iters=10), CosineAnnealingLR(o, T_max=40)], milestones=[10]), 0.1, 50),
    "SequentialLR(LinearLR(0.1, total_iters=10), CosineAnnealingLR(T_max=40), milestones=[10])",
)
# Under a warmup of W, a schedule's own lengths are fractions of T − W: cosine steps {fraction: 0.5} of 90 = 45.
T, W = 100, 10
case(
    "fraction-under-warmup",
    {"kind": "cosine", "steps": {"fraction": 0.5}, "warmup": {"steps": 10}},
    0.1,
    T,
    None,
    run(lambda o: LambdaLR(o, lambda s: s / W if s < W else (0.5 * (1 + math.cos(math.pi * (s - W) / 45)) if s - W < 45 else 0.0)), 0.1, T),
    "warmup 10, then CosineAnnealingLR(T_max=45) held at its minimum",
)
# A fractional number of epochs: warmup {epochs: 0.5} of 7-update epochs is ceil(3.5) = 4.
W = 4
case(
    "warmup-half-epoch",
    {"kind": "constant", "warmup": {"steps": {"epochs": 0.5}}},
    0.05,
    20,
    7,
    run(lambda o: LambdaLR(o, lambda s: s / W if s < W else 1.0), 0.05, 20),
    "HF get_constant_schedule_with_warmup(4)",
)

out = os.path.join(os.path.dirname(__file__), "..", "src", "fixtures", "v1.1-lengths.json")
with open(out, "w") as f:
    json.dump({"generator": "packages/schedules/scripts/v1-1-lengths-fixtures.py", "torch": torch.__version__, "cases": cases}, f, indent=1)
    f.write("\n")
print("wrote %d cases to %s" % (len(cases), out))
