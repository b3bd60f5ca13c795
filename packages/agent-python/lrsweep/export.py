"""Exports a sweep's per-update series where people already read curves.

    python -m lrsweep export tensorboard SWEEP_ID --out runs/
    tensorboard --logdir runs/

One TensorBoard run per trial (``<out>/<label>-<trial id>``) with the scalars ``lr`` (the rate
applied), ``train_loss`` and every evaluation metric (``val_*``, and ``test_*`` at the horizon),
each at its update step; and the trial's configuration as hparams, so TensorBoard's HParams view
lists the trials side by side with their final metrics. Values are TensorBoard's float32.

Running an export again replaces each trial's run (and the experiment's summary) rather than
adding a second copy. Reads the API with a member or admin token (``LRSWEEP_API_URL``,
``LRSWEEP_TOKEN``); writes with the ``tensorboard`` package: ``pip install "lrsweep[tensorboard]"``.
"""

import glob
import os
import re
import shutil
import sys
import time

from .client import Client

__all__ = ["export_tensorboard", "main"]

#: Update rows per page of GET /v1/trials/:id/metrics (the API's largest page).
_PAGE = 100_000


def _tensorboard():
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2  # noqa: WPS433 (optional)
        from tensorboard.plugins.hparams import summary_v2 as hp
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError as e:
        raise SystemExit('lrsweep export tensorboard: needs the tensorboard package: pip install "lrsweep[tensorboard]"') from e
    # (getattr: protobuf makes these classes at import, out of a type checker's sight.)
    return getattr(event_pb2, "Event"), getattr(summary_pb2, "Summary"), hp, EventFileWriter


def _trials(client, sweep_id):
    """Every trial of the sweep (every page of GET /v1/sweeps/:id/trials)."""
    out, offset, limit = [], 0, 1000
    while True:
        page = client._get("/v1/sweeps/%s/trials?limit=%d&offset=%d" % (sweep_id, limit, offset))
        got = page.get("trials", [])
        out.extend(got)
        if len(got) < limit:
            return out
        offset += limit


def series(client, trial_id):
    """A trial's updates and evaluations, every page of GET /v1/trials/:id/metrics."""
    updates, evals, start = [], [], 0
    while True:
        page = client._get("/v1/trials/%s/metrics?from=%d&limit=%d" % (trial_id, start, _PAGE))
        updates.extend(page.get("updates", []))
        evals.extend(page.get("evals", []))
        if page.get("nextFrom") is None:
            return updates, evals
        start = page["nextFrom"]


def _eval_metrics(e):
    """An evaluation's metrics by their API names (val_loss, val_acc, test_*, a trainer's own)."""
    out = {}
    for k, v in (("val_loss", e.get("valLoss")), ("val_acc", e.get("valAcc"))):
        if v is not None:
            out[k] = v
    for k, v in (e.get("metrics") or {}).items():
        if v is not None:
            out[k] = v
    return out


def _hparams(t):
    """The trial's configuration as flat hparams: base LR, schedule, seed and its other axes."""
    cfg = t.get("config") or {}
    schedule = cfg.get("schedule") or {}
    out = {"base_lr": float(cfg["baseLr"]), "schedule": str(schedule.get("kind")), "seed": int(cfg.get("seed", 0))}
    if cfg.get("horizon") is not None:
        out["horizon"] = int(cfg["horizon"])
    for k, v in (cfg.get("values") or {}).items():
        out[k] = v if isinstance(v, (bool, int, float, str)) else str(v)
    return out


def _label(t):
    h = _hparams(t)
    name = "%s-lr%g-seed%d" % (h["schedule"], h["base_lr"], h["seed"])
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", name) + "-" + t["id"]


def export_tensorboard(client, sweep_id, out, progress=True):
    """Writes one TensorBoard run per trial under ``out``; returns the run directories written."""
    Event, Summary, hp, EventFileWriter = _tensorboard()
    os.makedirs(out, exist_ok=True)
    trials = _trials(client, sweep_id)
    # The experiment's summary (which hparams and metrics the HParams view shows) is the root's own
    # event file: a re-export replaces it, as it replaces each trial's run.
    for old in glob.glob(os.path.join(out, "events.out.tfevents.*")):
        os.remove(old)
    written, metric_names, names = [], set(), set()
    for i, t in enumerate(trials, 1):
        updates, evals = series(client, t["id"])
        run_dir = os.path.join(out, _label(t))
        shutil.rmtree(run_dir, ignore_errors=True)
        for stale in glob.glob(os.path.join(out, "*-" + glob.escape(t["id"]))):
            shutil.rmtree(stale, ignore_errors=True)
        w = EventFileWriter(run_dir)
        now = time.time()
        hparams = _hparams(t)
        names.update(hparams)
        w.add_event(Event(wall_time=now, step=0, summary=hp.hparams_pb(hparams, trial_id=t["id"])))
        for u in updates:
            tags = [Summary.Value(tag="lr", simple_value=u["lr"])]
            if u.get("trainLoss") is not None:
                tags.append(Summary.Value(tag="train_loss", simple_value=u["trainLoss"]))
            w.add_event(Event(wall_time=now, step=u["step"], summary=Summary(value=tags)))
        for e in evals:
            m = _eval_metrics(e)
            metric_names.update(m)
            w.add_event(
                Event(wall_time=now, step=e["step"], summary=Summary(value=[Summary.Value(tag=k, simple_value=v) for k, v in sorted(m.items())]))
            )
        w.close()
        written.append(run_dir)
        if progress:
            print("lrsweep export: %d/%d trials (%s)" % (i, len(trials), os.path.basename(run_dir)), file=sys.stderr, flush=True)
    # The HParams view's columns: every hparam the trials have, every metric they reported.
    config = hp.hparams_config_pb(
        hparams=[hp.HParam(k) for k in sorted(names)],
        metrics=[hp.Metric(k) for k in sorted(metric_names | {"train_loss", "lr"})],
    )
    root = EventFileWriter(out)
    root.add_event(Event(wall_time=time.time(), step=0, summary=config))
    root.close()
    return written


def main(argv=None):
    import argparse  # noqa: WPS433

    p = argparse.ArgumentParser(prog="python -m lrsweep export", description="Export a sweep's series.")
    sub = p.add_subparsers(dest="target", required=True)
    tb = sub.add_parser("tensorboard", help="one TensorBoard run per trial (scalars and hparams)")
    tb.add_argument("sweep_id")
    tb.add_argument("--out", required=True, help="the log directory (tensorboard --logdir OUT)")
    for s in (tb,):
        s.add_argument("--url", help="the API (default: LRSWEEP_API_URL, else http://127.0.0.1:3000)")
        s.add_argument("--token", help="a member or admin token (default: LRSWEEP_TOKEN)")
        s.add_argument("--quiet", action="store_true", help="no progress lines")
    a = p.parse_args(argv)
    client = Client(url=a.url, token=a.token)
    runs = export_tensorboard(client, a.sweep_id, a.out, progress=not a.quiet)
    print("lrsweep export: %d trial runs in %s (tensorboard --logdir %s)" % (len(runs), a.out, a.out))
    return 0
