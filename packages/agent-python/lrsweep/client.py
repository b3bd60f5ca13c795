"""lrsweep's notebook client: submit sweeps, follow them, and read their answers as DataFrames.

    import lrsweep
    client = lrsweep.Client()                      # LRSWEEP_API_URL, LRSWEEP_TOKEN
    sweep = client.submit("examples/mnist-schedules.json")
    sweep.wait()                                   # a progress bar (tqdm) in Jupyter and terminals
    sweep.ranking()                                # configurations across seeds: a DataFrame
    sweep.verdict(); sweep.trials(); sweep.curves(metric="val_loss"); sweep.plot()

The HTTP part is the standard library's (the agent SDK's client); the tables need pandas, the
progress bar tqdm and the plot matplotlib: ``pip install "lrsweep[notebook]"``. An API error
raises ``LrsweepError`` with its ``code``, its ``message`` and ``issues`` (each naming a field).
"""

import json
import os
import sys
import time

from . import _Api

__all__ = ["Client", "Sweep"]

_ENDED = ("completed", "failed", "cancelled")


def _pandas():
    try:
        import pandas  # noqa: WPS433 (optional)
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError('lrsweep: DataFrames need pandas: pip install "lrsweep[notebook]"') from e
    return pandas


class Client:
    """A client of the lrsweep API for notebooks and scripts (a member or admin token)."""

    def __init__(self, url=None, token=None, timeout=30.0):
        self._api = _Api(
            url or os.environ.get("LRSWEEP_API_URL", "http://127.0.0.1:3000"),
            token or os.environ.get("LRSWEEP_TOKEN", ""),
            timeout=timeout,
            retry_for=10.0,
        )

    def _get(self, path):
        return self._api.call("GET", path)

    def submit(self, spec, idempotency_key=None):
        """Submits a sweep spec (a dict, or the path of a JSON file); returns its ``Sweep``.
        A spec the API refuses raises ``LrsweepError`` (code ``SPEC_INVALID``) naming each field."""
        if isinstance(spec, (str, os.PathLike)):
            with open(spec, encoding="utf-8") as f:
                spec = json.load(f)
        if not isinstance(spec, dict):
            raise TypeError("submit() takes a spec dict or the path of a JSON file")
        headers = {"idempotency-key": idempotency_key} if idempotency_key else None
        created = self._api.call("POST", "/v1/sweeps", spec, headers=headers)
        return Sweep(self, created["id"])

    def sweep(self, sweep_id):
        """The sweep of this id (of the token's project)."""
        return Sweep(self, sweep_id)

    def sweeps(self, limit=100):
        """The project's sweeps, newest first, as a DataFrame (id, name, status, counts, created)."""
        pd = _pandas()
        page = self._get("/v1/sweeps?limit=%d" % int(limit))
        rows = []
        for s in page.get("sweeps", []):
            counts = s.get("counts", {})
            rows.append(
                {
                    "id": s["id"],
                    "name": s.get("name"),
                    "status": s.get("status"),
                    "trials": counts.get("total", 0),
                    "completed": counts.get("completed", 0),
                    "failed": counts.get("failed", 0),
                    "created_at": pd.to_datetime(s.get("createdAt")),
                }
            )
        return pd.DataFrame(rows, columns=["id", "name", "status", "trials", "completed", "failed", "created_at"])


class Sweep:
    """A submitted sweep: its state, and its answers as DataFrames."""

    def __init__(self, client, sweep_id):
        self._client = client
        self.id = sweep_id

    def __repr__(self):
        return "Sweep(%r)" % self.id

    def info(self):
        """The sweep as the API describes it (GET /v1/sweeps/:id)."""
        return self._client._get("/v1/sweeps/%s" % self.id)

    def wait(self, progress=True, poll=1.0, timeout=None):
        """Waits until the sweep has ended (completed, failed or cancelled), showing how many of
        its trials are done (tqdm: a widget in Jupyter, a bar in a terminal; plain lines without
        tqdm). Returns the final ``info()``; raises ``TimeoutError`` after ``timeout`` seconds."""
        bar = None
        deadline = None if timeout is None else time.monotonic() + timeout
        last = None
        try:
            while True:
                s = self.info()
                counts = s.get("counts", {})
                total = counts.get("total", 0)
                done = sum(counts.get(k, 0) for k in ("completed", "failed", "diverged", "cancelled", "pruned"))
                if progress:
                    if bar is None:
                        bar = _progress(total, "sweep %s" % self.id[:8])
                    bar.total = total
                    bar.update(done - bar.n)
                    bar.set_postfix_str(s.get("status", ""))
                    if getattr(bar, "plain", False) and (done, s.get("status")) != last:
                        print("%s: %d/%d trials done (%s)" % (self.id[:8], done, total, s.get("status")), file=sys.stderr)
                    last = (done, s.get("status"))
                if s.get("status") in _ENDED:
                    return s
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError("sweep %s has not ended after %s s" % (self.id, timeout))
                time.sleep(poll)
        finally:
            if bar is not None:
                bar.close()

    def ranking(self, metric=None, aggregate=None):
        """Configurations ranked across seeds (GET /results): one row each, seeds pooled."""
        pd = _pandas()
        q = _query(metric=metric, aggregate=aggregate)
        r = self._client._get("/v1/sweeps/%s/results%s" % (self.id, q))
        rows = []
        for row in r["ranking"]:
            cfg = row["config"]
            ci = row.get("ci95") or [None, None]
            rows.append(
                {
                    "rank": row["rank"],
                    "config_id": row["configId"],
                    "schedule": cfg["schedule"].get("kind"),
                    "base_lr": cfg["baseLr"],
                    "n": row["n"],
                    "seeds": row["seeds"],
                    "diverged": row["diverged"],
                    "mean": row["mean"],
                    "std": row["std"],
                    "ci_lo": ci[0],
                    "ci_hi": ci[1],
                    "partial": row["partial"],
                    **{("config_" + k): v for k, v in (cfg.get("values") or {}).items()},
                }
            )
        df = pd.DataFrame(rows)
        df.attrs["objective"] = r["objective"]
        df.attrs["selected_on"] = r.get("selectedOn")
        return _typed(pd, df, {"rank": "int64", "n": "int64", "seeds": "int64", "diverged": "int64", "base_lr": "float64", "mean": "float64", "std": "float64", "ci_lo": "float64", "ci_hi": "float64", "partial": "bool"})

    def verdict(self, metric=None):
        """Each schedule at its own best base LR, against the winner (GET /schedules): one row a schedule."""
        pd = _pandas()
        r = self._client._get("/v1/sweeps/%s/schedules%s" % (self.id, _query(metric=metric)))
        winner = r.get("winner")
        vs = {c["b"]: c for c in r.get("comparisons", []) if c.get("a") == winner}
        rows = []
        for s in r["schedules"]:
            best = s.get("best") or {}
            ci = best.get("ci95") or [None, None]
            c = vs.get(s["scheduleKey"], {})
            rows.append(
                {
                    "schedule": s["label"],
                    "winner": s["scheduleKey"] == winner,
                    "best_lr": best.get("baseLr"),
                    "n": best.get("n"),
                    "mean": best.get("mean"),
                    "ci_lo": ci[0],
                    "ci_hi": ci[1],
                    "delta": c.get("meanDiff"),
                    "p_holm": c.get("pHolm"),
                    "significant": c.get("significant"),
                }
            )
        df = pd.DataFrame(rows)
        df.attrs["verdict"] = r.get("verdict")
        return _typed(pd, df, {"best_lr": "float64", "mean": "float64", "ci_lo": "float64", "ci_hi": "float64", "delta": "float64", "p_holm": "float64"})

    def transfer(self, target_width=None, target_steps=None):
        """LR transfer across scale (GET /transfer): one row per schedule and scale, with the
        estimated best base LR (eta_star), its 95% interval and flags. ``attrs``: ``laws`` (a
        DataFrame: per schedule the exponent b of eta* = a * scale^b with its interval, and eta* at
        the target with its prediction interval), ``winner``, ``tau``, ``warnings``, ``pending``."""
        pd = _pandas()
        q = _query(targetWidth=target_width, targetSteps=target_steps)
        r = self._client._get("/v1/sweeps/%s/transfer%s" % (self.id, q))
        optima = pd.DataFrame(
            [
                {
                    "schedule": o["schedule"],
                    "width": o["width"],
                    "steps": o["steps"],
                    "eta_star": o["lr"],
                    "lo": o["interval"][0],
                    "hi": o["interval"][1],
                    "grid_best": o["gridBest"],
                    "value": o["value"],
                    "censored": o["censored"],
                    "flags": ",".join(o["flags"]),
                    "seeds": o["seeds"],
                }
                for o in r["optima"]
            ]
        )
        laws = pd.DataFrame(
            [
                {
                    "schedule": law["schedule"],
                    "axis": law["axis"],
                    "at": law["at"],
                    "a": law["a"],
                    "b": law["b"],
                    "b_lo": law["bInterval"][0],
                    "b_hi": law["bInterval"][1],
                    "target": (law["target"] or {}).get("scale"),
                    "eta_star_target": (law["target"] or {}).get("lr"),
                    "target_lo": ((law["target"] or {}).get("interval") or [None, None])[0],
                    "target_hi": ((law["target"] or {}).get("interval") or [None, None])[1],
                }
                for law in r["laws"]
            ]
        )
        optima.attrs.update(
            {
                "laws": laws,
                "winner": r.get("winner"),
                "tau": r.get("tau"),
                "warnings": r.get("warnings", []),
                "pending": r.get("pending"),
                "objective": r.get("objective"),
            }
        )
        return _typed(pd, optima, {"eta_star": "float64", "lo": "float64", "hi": "float64", "grid_best": "float64", "censored": "bool", "seeds": "int64"})

    def trials(self):
        """Every trial (every page of GET /trials): status, configuration, attempts, outcome."""
        pd = _pandas()
        rows, offset, limit = [], 0, 1000
        while True:
            page = self._client._get("/v1/sweeps/%s/trials?limit=%d&offset=%d" % (self.id, limit, offset))
            got = page.get("trials", [])
            for t in got:
                cfg = t.get("config") or {}
                rows.append(
                    {
                        "id": t["id"],
                        "status": t["status"],
                        "schedule": (cfg.get("schedule") or {}).get("kind"),
                        "base_lr": cfg.get("baseLr"),
                        "seed": cfg.get("seed"),
                        "attempt": t.get("attempt"),
                        "failures": t.get("failures"),
                        "val_loss": t.get("finalValLoss", t.get("valLoss")),
                        "error": t.get("error"),
                    }
                )
            if len(got) < limit:
                break
            offset += limit
        return _typed(pd, pd.DataFrame(rows), {"base_lr": "float64", "seed": "Int64", "attempt": "Int64", "failures": "Int64"})

    def curves(self, metric="val_loss", points=500):
        """Mean curves across seeds (GET /curves), long form: one row per configuration and step."""
        pd = _pandas()
        r = self._client._get("/v1/sweeps/%s/curves%s" % (self.id, _query(metric=metric, points=points)))
        rows = []
        for c in r["curves"]:
            for i, step in enumerate(c["steps"]):
                rows.append(
                    {
                        "config_id": c["configId"],
                        "label": c["label"],
                        "base_lr": c["baseLr"],
                        "step": step,
                        "n": c["n"][i],
                        "mean": c["mean"][i],
                        "ci_lo": c["ci95Lo"][i],
                        "ci_hi": c["ci95Hi"][i],
                    }
                )
        df = pd.DataFrame(rows, columns=["config_id", "label", "base_lr", "step", "n", "mean", "ci_lo", "ci_hi"])
        df.attrs["metric"] = r["metric"]
        return _typed(pd, df, {"step": "int64", "n": "int64", "base_lr": "float64", "mean": "float64", "ci_lo": "float64", "ci_hi": "float64"})

    def plot(self, metric="val_loss", ax=None):
        """The curves of ``curves(metric)`` with matplotlib, one line per configuration; returns the Axes."""
        try:
            import matplotlib.pyplot as plt  # noqa: WPS433 (optional)
        except ImportError as e:  # pragma: no cover
            raise ImportError('lrsweep: plots need matplotlib: pip install "lrsweep[notebook]"') from e
        df = self.curves(metric=metric)
        if ax is None:
            _, ax = plt.subplots()
        for label, g in df.groupby("label", sort=False):
            ax.plot(g["step"], g["mean"], label="%s @ %g" % (label, g["base_lr"].iloc[0]))
        ax.set_xlabel("update")
        ax.set_ylabel(metric)
        ax.legend(fontsize="small")
        return ax


def _query(**kw):
    q = "&".join("%s=%s" % (k, v) for k, v in kw.items() if v is not None)
    return "?" + q if q else ""


def _typed(pd, df, dtypes):
    """The columns with the types their values have (an empty frame keeps its columns)."""
    for col, dtype in dtypes.items():
        if col in df.columns:
            df[col] = df[col].astype(dtype)
    return df


class _Plain:
    """A progress report without tqdm: a line whenever the count or the status changes."""

    plain = True

    def __init__(self, total):
        self.total = total
        self.n = 0

    def update(self, k):
        self.n += k

    def set_postfix_str(self, s):
        pass

    def close(self):
        pass


def _progress(total, desc):
    try:
        from tqdm.auto import tqdm  # noqa: WPS433 (optional)
    except ImportError:
        return _Plain(total)
    return tqdm(total=total, desc=desc, unit="trial")
