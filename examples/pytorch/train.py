"""A PyTorch trainer run by lrsweep: it trains whatever trial of its pool it is handed, at the
rate lrsweep sets for every update, and checkpoints so that a crashed or stopped trial resumes
where it was (on this agent or another).

    pip install torch packages/agent-python
    LRSWEEP_API_URL=http://127.0.0.1:3000 LRSWEEP_TOKEN=<an agent token of pool torch-cpu> \\
      python examples/pytorch/train.py

The sweep names the pool and gives the trainer its settings (runner.config and grid.config):

    {"name": "torch-mlp", "runner": {"kind": "external", "pool": "torch-cpu", "config": {"width": 64}},
     "training": {"totalSteps": 600, "evalEvery": 100},
     "grid": {"baseLr": [0.001, 0.003, 0.01], "schedule": [{"kind": "constant"}, {"kind": "cosine", "warmup": {"steps": 60}}],
              "seeds": 2, "config": {"weight_decay": [0, 0.01]}}}

The data here is synthetic (made from a fixed seed, nothing is downloaded): put your own model
and data loaders in its place. Environment: LRSWEEP_POOL (torch-cpu), CHECKPOINT_DIR, IDLE_TIMEOUT,
TORCH_DEVICE (cpu; cuda trains on the GPU).
"""
import os

import torch
import torch.nn.functional as F

import lrsweep

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))
CHECKPOINT_DIR = os.environ.get("CHECKPOINT_DIR", "/tmp/lrsweep-torch-checkpoints")
CHECKPOINT_EVERY = int(os.environ.get("CHECKPOINT_EVERY", "200"))
DEVICE = torch.device(os.environ.get("TORCH_DEVICE", "cpu"))
os.makedirs(CHECKPOINT_DIR, exist_ok=True)


def synthetic_data():
    """3 classes, 20 features, from a fixed seed: train, validation and test splits."""
    g = torch.Generator().manual_seed(1234)
    x = torch.randn(3000, 20, generator=g)
    y = (x @ torch.randn(20, 3, generator=g) + 0.5 * torch.randn(3000, 3, generator=g)).argmax(1)
    x, y = x.to(DEVICE), y.to(DEVICE)
    return (x[:2400], y[:2400]), (x[2400:2700], y[2400:2700]), (x[2700:], y[2700:])


def make_model(width):
    return torch.nn.Sequential(torch.nn.Linear(20, width), torch.nn.ReLU(), torch.nn.Linear(width, 3))


@torch.no_grad()
def evaluate(model, split):
    x, y = split
    logits = model(x)
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def train(trial, data):
    train_set, val_set, test_set = data
    torch.manual_seed(trial.seed)
    model = make_model(int(trial.config.get("width", 64))).to(DEVICE)
    # Two parameter groups: the head (group 0) at the schedule's rate, the body at a multiple of
    # it (runner config body_lr_mult, default 1); trial.scheduler keeps that multiple at every
    # update and declares both groups on the attempt.
    wd = float(trial.config.get("weight_decay", 0.0))
    body, head = model[0], model[2]
    optimizer = torch.optim.AdamW(
        [
            {"params": head.parameters(), "name": "head"},
            {"params": body.parameters(), "name": "body", "lr": trial.base_lr * float(trial.config.get("body_lr_mult", 1.0))},
        ],
        lr=trial.base_lr,
        weight_decay=wd,
    )
    if trial.checkpoint_uri:
        state = torch.load(trial.checkpoint_uri, map_location=DEVICE)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    # After loading: the scheduler sets the rate of update resume_step, then of every next one.
    scheduler = trial.scheduler(optimizer)
    batch_size = int(trial.config.get("batch_size", 64))
    for step in range(trial.resume_step, trial.total_steps):
        if trial.should_stop:
            return
        # Each update's batch is drawn from (seed, step): a resumed run sees the same batches.
        g = torch.Generator().manual_seed(trial.seed * 1_000_003 + step)
        idx = torch.randint(0, len(train_set[0]), (batch_size,), generator=g).to(DEVICE)
        lr = optimizer.param_groups[0]["lr"]
        loss = F.cross_entropy(model(train_set[0][idx]), train_set[1][idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        trial.log(step, loss=loss.item(), lr=lr)
        done = step + 1
        if done % trial.eval_every == 0 or done == trial.total_steps:
            val_loss, val_acc = evaluate(model, val_set)
            metrics = {"val_loss": val_loss, "val_acc": val_acc}
            if done == trial.total_steps:
                metrics["test_loss"], metrics["test_acc"] = evaluate(model, test_set)
            trial.evaluate(done, **metrics)
        # After the evaluation due at this step: a marker keeps everything reported before it.
        # At a fork point (trial.must_checkpoint_at: a shorter horizon resumes from here) too;
        # this trainer keeps every checkpoint file, as those must be kept.
        if (done % CHECKPOINT_EVERY == 0 or step in trial.must_checkpoint_at) and done < trial.total_steps:
            path = os.path.join(CHECKPOINT_DIR, "%s-%d.pt" % (trial.id, step))
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
            trial.checkpointed(step, path)
        if done == trial.rung_step:
            # ASHA: judged at its rung from the checkpoint just saved; the trial waits there.
            judge_at_rung(trial, model, optimizer, train_set, val_set, batch_size)
            return


def judge_at_rung(trial, model, optimizer, train_set, val_set, batch_size):
    """The rung's annealed estimate: a short cooldown on from the rung's checkpoint, on the batches
    the run would have seen next, at the rates lrsweep gives, then an evaluation. The run that goes
    on (if promoted) resumes from the checkpoint file, untouched by this side branch."""
    train_set_x, train_set_y = train_set
    rows = []
    for i, rate in enumerate(trial.rung_cooldown_lr()):
        for k, group in enumerate(optimizer.param_groups):
            # Group 0 at exactly the rate given (it is checked); the others keep their multiple.
            group["lr"] = rate if k == 0 else rate * group["initial_lr"] / trial.base_lr
        g = torch.Generator().manual_seed(trial.seed * 1_000_003 + trial.rung_step + i)
        idx = torch.randint(0, len(train_set_x), (batch_size,), generator=g).to(DEVICE)
        loss = F.cross_entropy(model(train_set_x[idx]), train_set_y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        rows.append((rate, loss.item()))
    val_loss, val_acc = evaluate(model, val_set)
    status = trial.report_rung(rows, val_loss=val_loss, val_acc=val_acc)
    print("trial %s judged at its rung after %d updates: %s" % (trial.id, trial.rung_step, status), flush=True)


def main():
    data = synthetic_data()
    agent = lrsweep.Agent(pool=os.environ.get("LRSWEEP_POOL", "torch-cpu"))
    idle = os.environ.get("IDLE_TIMEOUT")
    for trial in agent.trials(idle_timeout=float(idle) if idle else None):
        print("trial %s (attempt %d) from update %d" % (trial.id, trial.attempt, trial.resume_step), flush=True)
        with trial:
            train(trial, data)
    print("no more trials", flush=True)


if __name__ == "__main__":
    main()
