"""The agent benchmark's trainer: `T` updates of simulated compute (a fixed sleep each, so the
training itself costs the same in every run), each logged through the SDK at the rate it gives,
an evaluation every `evalEvery`. Prints one JSON line per trial with its own timings: when the
claim answered, the first update was logged, the loop ended and completion was acknowledged,
and how much of the loop was the simulated training."""
import json
import os
import time

import lrsweep

COMPUTE = float(os.environ.get("BENCH_STEP_SECONDS", "0.01"))
agent = lrsweep.Agent(pool=os.environ.get("BENCH_POOL", "bench"), name="bench-agent")
for trial in agent.trials(idle_timeout=float(os.environ.get("BENCH_IDLE", "5"))):
    claimed = time.time()
    compute = 0.0
    first = None
    with trial:
        for step in range(trial.resume_step, trial.total_steps):
            t0 = time.perf_counter()
            time.sleep(COMPUTE)
            compute += time.perf_counter() - t0
            trial.log(step, loss=1.0 / (step + 1), lr=trial.lr(step))
            if first is None:
                first = time.time()
            done = step + 1
            if done % trial.eval_every == 0 or done == trial.total_steps:
                trial.evaluate(done, val_loss=1.0 / done)
        loop_end = time.time()
    completed = time.time()
    print(json.dumps({"trial": trial.id, "claimed": claimed, "firstUpdate": first, "loopEnd": loop_end, "completed": completed, "computeSeconds": compute}), flush=True)
