"""Ray Tune and Optuna on the trials of `pnpm bench:orchestration`'s fleet phase: N tiny trials
(an MLP on 20 random batches, one report per update and an evaluation every 10), two at a time.
Prints one JSON line per framework: makespan (first trial's start to last one's end), the trainables' own time, and the slot time per
trial not spent training — (concurrency x makespan - training time) / N — the figure lrsweep's
phase reports. Run from .venv-bench (made by the bench: ray[tune], optuna, psycopg2)."""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--framework", choices=["ray", "optuna"], required=True)
p.add_argument("--trials", type=int, default=500)
p.add_argument("--concurrency", type=int, default=2)
p.add_argument("--updates", type=int, default=20)
p.add_argument("--eval-every", type=int, default=10)
p.add_argument("--pg", default="postgresql+psycopg2://postgres@127.0.0.1:5432/lrsweep_bench_optuna")
args = p.parse_args()

SEEDS = 10
LRS = [float(x) for x in np.geomspace(1e-4, 1e-1, max(1, args.trials // SEEDS))]


def train(lr, seed, report):
    """The same tiny work for every framework: 784-16-10 MLP, batch 32, SGD; report per update."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((args.updates, 32, 784), dtype=np.float32)
    y = rng.integers(0, 10, (args.updates, 32))
    w1 = rng.standard_normal((784, 16), dtype=np.float32) * 0.05
    w2 = rng.standard_normal((16, 10), dtype=np.float32) * 0.05
    loss = 0.0
    for step in range(args.updates):
        h = np.maximum(x[step] @ w1, 0)
        z = h @ w2
        z -= z.max(axis=1, keepdims=True)
        pr = np.exp(z)
        pr /= pr.sum(axis=1, keepdims=True)
        loss = float(-np.log(pr[np.arange(32), y[step]] + 1e-9).mean())
        g = pr
        g[np.arange(32), y[step]] -= 1
        g /= 32
        gw2 = h.T @ g
        gh = (g @ w2.T) * (h > 0)
        w1 -= lr * (x[step].T @ gh)
        w2 -= lr * gw2
        is_eval = (step + 1) % args.eval_every == 0 or step + 1 == args.updates
        report(step, loss, is_eval)
    return loss, time.perf_counter() - t0


def run_ray():
    import ray
    from ray import tune

    ray.init(num_cpus=args.concurrency, include_dashboard=False, log_to_driver=False, logging_level="ERROR")

    def trainable(config):
        spent = [0.0]

        def report(step, loss, is_eval):
            t = time.perf_counter()
            tune.report({"loss": loss, "step": step, **({"val_loss": loss} if is_eval else {})})
            spent[0] += time.perf_counter() - t

        started = time.time()
        _, total = train(config["lr"], config["seed"], report)
        # The trainable's own time, without the time its reports took (that is Tune's).
        tune.report({"loss": 0.0, "train_s": total - spent[0], "started": started, "ended": time.time()})

    storage = tempfile.mkdtemp(prefix="ray-bench-")
    tuner = tune.Tuner(
        trainable,
        param_space={"lr": tune.grid_search(LRS), "seed": tune.grid_search(list(range(SEEDS)))},
        tune_config=tune.TuneConfig(max_concurrent_trials=args.concurrency, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=storage, verbose=0),
    )
    results = tuner.fit()
    # From the first trial's start to the last one's end, as lrsweep's phase measures it.
    makespan = max(r.metrics["ended"] for r in results) - min(r.metrics["started"] for r in results)
    train_s = sum(r.metrics.get("train_s", 0.0) for r in results)
    n = len(results)
    ray.shutdown()
    return n, makespan, train_s, f"ray {ray.__version__}"


def run_optuna():
    import optuna
    import sqlalchemy

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    base, db = args.pg.rsplit("/", 1)
    eng = sqlalchemy.create_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        c.execute(sqlalchemy.text(f'CREATE DATABASE "{db}"'))
    eng.dispose()
    # An RDB storage: what Optuna needs for more than one process (a fleet) to share a study.
    study = optuna.create_study(
        storage=args.pg,
        sampler=optuna.samplers.GridSampler({"lr": LRS, "seed": list(range(SEEDS))}, seed=0),
        direction="minimize",
    )
    train_total = [0.0]

    def objective(trial):
        lr = trial.suggest_float("lr", min(LRS), max(LRS), log=True)
        seed = trial.suggest_int("seed", 0, SEEDS - 1)
        spent = [0.0]

        def report(step, loss, is_eval):
            t = time.perf_counter()
            trial.report(loss, step)
            spent[0] += time.perf_counter() - t

        loss, total = train(lr, seed, report)
        train_total[0] += total - spent[0]
        return loss

    study.optimize(objective, n_trials=len(LRS) * SEEDS, n_jobs=args.concurrency)
    # From the first trial's start to the last one's end, as lrsweep's phase measures it.
    done = [t for t in study.trials if t.datetime_complete]
    makespan = (max(t.datetime_complete for t in done) - min(t.datetime_start for t in done)).total_seconds()
    return len(study.trials), makespan, train_total[0], f"optuna {optuna.__version__}"


n, makespan, train_s, version = run_ray() if args.framework == "ray" else run_optuna()
print(
    json.dumps(
        {
            "framework": args.framework,
            "version": version,
            "trials": n,
            "concurrency": args.concurrency,
            "makespanS": makespan,
            "trainS": train_s,
            "trialsPerS": n / makespan,
            "slotMsPerTrialNotTraining": 1000 * (args.concurrency * makespan - train_s) / n,
        }
    ),
    flush=True,
)
sys.exit(0)
