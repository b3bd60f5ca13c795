"""lrsweep's agent SDK: run the trials of a pool with your own trainer, in any framework.

An ``Agent`` registers with the lrsweep API as an agent of a pool, claims that pool's trials one
at a time and yields them; a ``Trial`` gives its seed, base LR, schedule, horizon, config and
resume point, the rate for every update (computed by lrsweep: there is no second schedule
implementation here), and reports updates, evaluations and checkpoint markers. Standard library
only. See docs/agents.md.

Agent protocol 2: every write of a trial carries the lease token its claim returned; a trial that
must stop (cancelled, deleted, superseded, its lease lost) answers 409 STALE_ATTEMPT with a
reason, which this SDK turns into ``should_stop`` and ``stop_reason``: that trial ends without an
exception out of the agent loop, and the agent goes on to claim the next.
"""

import json
import math
import os
import random
import signal
import socket
import sys
import threading
import time
import urllib.parse
from typing import Any, Optional
from http.client import HTTPConnection, HTTPSConnection

__all__ = ["Agent", "Trial", "Client", "Sweep", "LrsweepError", "TerminalError", "ScheduleMismatch", "StaleAttempt"]
__version__ = "0.2.0"
PROTOCOL_VERSION = 2


class LrsweepError(Exception):
    """An answer of the lrsweep API other than 2xx: ``status``, ``code``, ``message``, and for a
    refused body its ``issues`` (``[{"path", "message"}]``) with ``field``, the first one's path."""

    def __init__(self, status, code, message, issues=None):
        super().__init__("%s %s: %s" % (status, code, message))
        self.status = status
        self.code = code
        self.message = message
        self.issues = list(issues or [])
        self.field = self.issues[0].get("path") if self.issues else None
        #: Seconds the API asked to wait (429/503 Retry-After), when it said.
        self.retry_after: Optional[float] = None


class TerminalError(Exception):
    """Raise it inside ``with trial:`` for a failure no retry can mend: the trial fails for good."""


class ScheduleMismatch(LrsweepError):
    """The server found a reported ``lr`` that is not the schedule's: the trial failed."""


class StaleAttempt(LrsweepError):
    """The trial must stop (409 STALE_ATTEMPT): ``reason`` is ``cancelled``, ``deleted``,
    ``superseded``, ``lease_lost`` or ``ended``. ``with trial:`` ends the trial quietly on it."""

    def __init__(self, status, code, message, reason=None):
        super().__init__(status, code, message)
        self.reason = reason or "ended"


def _jittered(seconds):
    """A wait of ``seconds`` spread over ±50%, so agents throttled together do not retry together."""
    return seconds * (0.5 + random.random())


_RETRYABLE = (ConnectionError, socket.timeout, TimeoutError, OSError)


class _Api:
    """A small JSON client: one connection per call, retries with backoff on network errors,
    5xx and 429 (honouring Retry-After), for up to ``retry_for`` seconds."""

    def __init__(self, url, token, timeout=30.0, retry_for=60.0):
        base = (url or "").rstrip("/")
        if base.endswith("/v1"):
            base = base[:-3]
        parts = urllib.parse.urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("lrsweep: give the API's url (or set LRSWEEP_API_URL), e.g. http://127.0.0.1:3000")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.prefix = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retry_for = retry_for

    def connection(self, timeout):
        cls = HTTPSConnection if self.scheme == "https" else HTTPConnection
        return cls(self.host, self.port, timeout=timeout)

    def call(self, method, path, body=None, timeout=None, retry_for=None, on_connection=None, retry_throttled=True, headers=None) -> Any:
        """One call, retried on network errors and 5xx (and on 429 unless ``retry_throttled`` is
        False: the caller then decides, e.g. to send a bigger batch later) with jittered backoff,
        honouring Retry-After, for up to ``retry_for`` seconds."""
        deadline = time.monotonic() + (self.retry_for if retry_for is None else retry_for)
        delay = 0.2
        while True:
            try:
                return self._once(method, path, body, timeout or self.timeout, on_connection, headers)
            except LrsweepError as e:
                retryable = e.status >= 500 or (e.status == 429 and retry_throttled)
                wait = _jittered(getattr(e, "retry_after", None) or delay)
                if not retryable or time.monotonic() + wait > deadline:
                    raise
            except _RETRYABLE:
                wait = _jittered(delay)
                if time.monotonic() + wait > deadline:
                    raise
            time.sleep(min(wait, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 5.0)

    def _once(self, method, path, body, timeout, on_connection, extra_headers=None):
        conn = self.connection(timeout)
        if on_connection:
            on_connection(conn)
        try:
            payload = None if body is None else json.dumps(body, allow_nan=False).encode()
            headers = {"authorization": "Bearer %s" % self.token, "accept": "application/json", **(extra_headers or {})}
            if payload is not None:
                headers["content-type"] = "application/json"
            conn.request(method, self.prefix + path, body=payload, headers=headers)
            res = conn.getresponse()
            text = res.read().decode("utf-8", "replace")
            data = json.loads(text) if text else None
            if 200 <= res.status < 300:
                return data
            code = (data or {}).get("code", "HTTP_ERROR") if isinstance(data, dict) else "HTTP_ERROR"
            message = (data or {}).get("message", text[:200]) if isinstance(data, dict) else text[:200]
            if code == "STALE_ATTEMPT":
                err = StaleAttempt(res.status, code, message, (data or {}).get("reason") if isinstance(data, dict) else None)
            else:
                issues = (data or {}).get("issues") if isinstance(data, dict) else None
                err = (ScheduleMismatch if code == "SCHEDULE_MISMATCH" else LrsweepError)(res.status, code, message, issues)
            retry_after = res.getheader("retry-after")
            try:
                err.retry_after = float(retry_after) if retry_after else None
            except ValueError:
                err.retry_after = None
            raise err
        finally:
            conn.close()


def _finite_or_none(v):
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


class Trial:
    """A claimed trial. Use it as ``with trial:`` (completes on a normal exit, releases if it was
    told to stop, fails on an exception, ends quietly on a ``StaleAttempt``), or call
    ``complete()``, ``fail()`` yourself."""

    _FLUSH_EVERY = 0.5
    _BATCH = 2000
    # Once throttled, reports go out in batches this big (the protocol's most rows a batch).
    _BATCH_THROTTLED = 10000

    def __init__(self, agent, data):
        self._agent = agent
        self._api = agent._api
        self.id = data["id"]
        self.sweep_id = data["sweepId"]
        self.attempt = data["attempt"]
        self.seed = data["seed"]
        self.base_lr = data["baseLr"]
        self.total_steps = data["totalSteps"]
        self.eval_every = data["evalEvery"]
        self.steps_per_epoch = data.get("stepsPerEpoch")
        self.schedule = data["schedule"]
        self.config = data["config"]
        self.resume_step = data["resumeStep"]
        self.checkpoint_uri = data["checkpointUri"]
        # Updates after which this trial must checkpoint (``checkpointed(step, uri)``) and keep the
        # file until its sweep ends: a horizon axis's shorter trials fork from it.
        self.must_checkpoint_at = frozenset(data.get("mustCheckpointAt") or ())
        # An ASHA trial's next rung (None otherwise, and past its last): after ``rung_step`` updates
        # the trial checkpoints (the marker after update rung_step - 1 is in must_checkpoint_at),
        # trains the rung's cooldown (``rung_cooldown_lr()``), evaluates and calls ``report_rung``.
        self.rung = data.get("rung")
        self.rung_step = self.rung["step"] if self.rung else None
        # What the trial came to on the server when it stopped there: "paused" at a rung, "pruned".
        self.status = None
        self.lease_ms = data["leaseMs"]
        self.lease_token = data["leaseToken"]
        self.error = None
        # Why the server said stop (cancelled, deleted, superseded, lease_lost, ended), once it did.
        self.stop_reason = None
        self._batch = self._BATCH
        # When the lease lapses unless renewed (monotonic): a renewal's retries stop before then.
        self._lease_until = time.monotonic() + self.lease_ms / 1000.0
        self._stop = threading.Event()
        self._ended = False
        self._lock = threading.Lock()
        self._sending = threading.Lock()
        # Reports in the order the trainer made them: update rows and evaluations.
        self._outbox = []
        # The claim brought the first chunk of rates (from the resume step's thousand on).
        self._lr_chunks = {data["lr"]["from"]: data["lr"]["lr"]}
        self._plateau = "reduce_on_plateau" in json.dumps(self.schedule)
        self._threads = [
            threading.Thread(target=self._flush_loop, name="lrsweep-flush-%s" % self.id[:8], daemon=True),
            threading.Thread(target=self._lease_loop, name="lrsweep-lease-%s" % self.id[:8], daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _path(self, what):
        return "/v1/trials/%s/%s" % (self.id, what)

    # What the trainer asks

    @property
    def should_stop(self):
        """True once the trial was cancelled, its lease was lost, it ended on the server (a
        schedule mismatch, divergence), or the agent is shutting down: stop without completing."""
        return self._stop.is_set() or self._agent._stopping.is_set()

    def lr(self, step):
        """The rate for update ``step`` (0-based), as lrsweep computes it (fetched in chunks)."""
        if not 0 <= step < self.total_steps:
            raise ValueError("step %d is outside 0 … %d" % (step, self.total_steps - 1))
        chunk = step // 1000 * 1000
        rates = self._lr_chunks.get(chunk)
        if rates is None:
            q = "?attempt=%d&from=%d&count=1000&leaseToken=%s" % (self.attempt, chunk, urllib.parse.quote(self.lease_token))
            rates = self._call("GET", self._path("lr") + q)["lr"]
            self._lr_chunks[chunk] = rates
        return rates[step - chunk]

    def scheduler(self, optimizer):
        """A torch LambdaLR that sets exactly ``trial.lr(step)`` before every update (resumed
        trials included): call ``scheduler.step()`` after each ``optimizer.step()``.

        Parameter group 0 runs at the schedule's rate (the one lrsweep checks); other groups keep
        their rate's multiple of group 0's as the optimizer was built (a backbone at
        ``lr=0.1 * base``: 0.1× the schedule at every update). The groups — name (a group's
        ``"name"``, else ``group<k>``), multiplier and weight decay — are declared on the attempt
        and shown with it."""
        from torch.optim.lr_scheduler import LambdaLR  # noqa: WPS433 (torch is optional)

        groups = optimizer.param_groups
        # initial_lr when present: a restored optimizer's lr is the last update's, initial_lr its base.
        bases = [float(g.get("initial_lr", g["lr"])) for g in groups]
        ratios = [b / bases[0] if bases[0] > 0 else 1.0 for b in bases]
        ratios[0] = 1.0
        for group, ratio in zip(groups, ratios):
            group["lr"] = self.base_lr * ratio
            group["initial_lr"] = self.base_lr * ratio
        self.declare_param_groups(
            [
                {"name": str(g.get("name") or "group%d" % k), "lr_multiplier": r, "weight_decay": g.get("weight_decay")}
                for k, (g, r) in enumerate(zip(groups, ratios))
            ]
        )
        last = min(max(self.resume_step, 0), self.total_steps - 1)
        return LambdaLR(optimizer, lambda s: self.lr(min(s, self.total_steps - 1)) / self.base_lr, last_epoch=last - 1)

    def declare_param_groups(self, groups):
        """Declares the attempt's optimizer parameter groups (once per attempt; ``scheduler`` does
        it for a torch optimizer): ``[{"name", "lr_multiplier", "weight_decay"}]``, group 0 at 1×."""
        body = []
        for g in groups:
            item = {"name": str(g["name"])[:64], "lrMultiplier": float(g["lr_multiplier"])}
            if g.get("weight_decay") is not None:
                item["weightDecay"] = float(g["weight_decay"])
            body.append(item)
        self._call("POST", self._path("param-groups"), self._fenced({"groups": body}))

    # What the trainer reports

    def log(self, step, loss=None, lr=None):
        """One update: its (0-based) step, training loss and the rate applied (``lr`` defaults to
        ``trial.lr(step)``). Buffered and sent in batches in the background, retried."""
        rate = self.lr(step) if lr is None else float(lr)
        with self._lock:
            self._outbox.append(("updates", {"step": int(step), "lr": rate, "loss": _finite_or_none(loss)}))

    def evaluate(self, step, **metrics):
        """An evaluation after ``step`` updates, e.g. ``evaluate(500, val_loss=0.3, val_acc=0.9)``;
        ``test_*`` metrics only at ``total_steps``. Sent in the background after the updates before
        it (at once, waiting for it, under a plateau schedule: its next rates depend on it)."""
        body = self._fenced({"step": int(step), "metrics": {k: _finite_or_none(v) for k, v in metrics.items()}})
        with self._lock:
            self._outbox.append(("evals", body))
        if self._plateau:
            self._flush()
            self._lr_chunks.clear()

    def checkpointed(self, step, uri):
        """State covering updates 0 … ``step`` is saved at ``uri``: a retry resumes at step + 1.
        When the trial must stop, this only sets ``should_stop``."""
        self._flush()
        if self.should_stop and self.stop_reason:
            return
        try:
            self._report(self._call("POST", self._path("checkpoints"), self._fenced({"step": int(step), "uri": str(uri)})))
        except StaleAttempt:
            pass

    def rung_cooldown_lr(self):
        """The rates of the next rung's cooldown side branch, one per update (empty when the rung
        is judged on the metric as it stands): from where the schedule is at the rung down to zero."""
        if not self.rung:
            raise ValueError("trial %s has no rung to be judged at" % self.id)
        q = "?attempt=%d&leaseToken=%s" % (self.attempt, urllib.parse.quote(self.lease_token))
        return self._call("GET", self._path("rung") + q)["lr"]

    def report_rung(self, cooldown, **metrics):
        """The trial judged at its rung, after its checkpoint there: ``cooldown`` the side branch's
        ``(lr, loss)`` per update, in order (kept out of the trial's series), then the evaluation
        after it, e.g. ``val_loss=0.4``. The attempt ends: the trial waits at its rung for its
        configuration's decision, and goes on from that checkpoint in a new attempt once promoted.
        Answers ``"paused"`` or ``"pruned"`` (None when the trial had to stop anyway)."""
        self._flush()
        body = self._fenced(
            {
                "index": self.rung["index"],
                "cooldown": [{"lr": float(lr), "loss": _finite_or_none(loss)} for lr, loss in cooldown],
                "metrics": {k: _finite_or_none(v) for k, v in metrics.items()},
            }
        )
        try:
            self.status = self._call("POST", self._path("rung"), body).get("status")
        except StaleAttempt:
            pass
        self._end()
        return self.status

    def complete(self):
        """Every update was trained and logged: the trial is done (409 before the horizon). A
        trial that must stop (cancelled, deleted, …) ends without an exception: see ``stop_reason``."""
        self._flush()
        try:
            if not self.stop_reason:
                self._call("POST", self._path("complete"), self._fenced({}))
        except StaleAttempt:
            pass
        self._end()

    def fail(self, message, retryable=True):
        """The trial failed; with ``retryable`` another attempt may run it (within its budget)."""
        self._flush(ignore_errors=True)
        try:
            if not self.stop_reason:
                self._call("POST", self._path("fail"), self._fenced({"message": str(message)[:4000] or "failed", "retryable": bool(retryable)}))
        except StaleAttempt:
            pass
        self._end()

    def release(self):
        """Gives the trial back for another agent (it resumes from the last marker): no failure."""
        self._flush(ignore_errors=True)
        try:
            if not self.stop_reason:
                self._call("POST", self._path("release"), self._fenced({}))
        except StaleAttempt:
            pass
        self._end()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._ended:
            # A stop the server asked for ends the trial, not the agent's loop.
            return isinstance(exc, StaleAttempt)
        if isinstance(exc, StaleAttempt):
            self._end()
            return True
        if exc is not None:
            self.fail("%s: %s" % (exc_type.__name__, exc), retryable=not isinstance(exc, TerminalError))
        elif self.should_stop:
            self.release()
        else:
            self.complete()
        return False

    # Internals

    def _fenced(self, body):
        """A write's body, with what fences it: the attempt and its lease token."""
        body["attempt"] = self.attempt
        body["leaseToken"] = self.lease_token
        return body

    def _call(self, method, path, body=None, renewal=False, retry_throttled=True):
        """A call about this trial. A lease renewal retries only while the lease lasts: past that
        another agent may hold the trial, and the next renewal (a third of a lease later) tries anew."""
        retry_for = max(0.5, self._lease_until - time.monotonic() - 1.0) if renewal else None
        try:
            answer = self._api.call(method, path, body, retry_for=retry_for, retry_throttled=retry_throttled)
        except StaleAttempt as e:
            self.error = e
            self.stop_reason = e.reason
            self._stop.set()
            raise
        except LrsweepError as e:
            # SCHEDULE_MISMATCH ended the trial; LEASE_MISMATCH means this client does not send
            # the lease token it was given: stop writing either way, and say why.
            if e.code in ("SCHEDULE_MISMATCH", "LEASE_MISMATCH"):
                self.error = e
                self._stop.set()
            raise
        if method == "POST":  # every write renews the lease
            self._lease_until = time.monotonic() + self.lease_ms / 1000.0
        return answer

    def _report(self, answer):
        if answer and answer.get("shouldStop"):
            self._stop.set()

    def _next_report(self, limit):
        """The outbox's first report: a run of update rows (one batch, at most ``limit`` of them),
        or one evaluation."""
        with self._lock:
            if not self._outbox or limit <= 0:
                return None, None, 0
            kind = self._outbox[0][0]
            if kind != "updates":
                return kind, self._outbox[0][1], 1
            rows = []
            for k, row in self._outbox:
                if k != "updates" or len(rows) == min(self._batch, limit):
                    break
                rows.append(row)
            return kind, self._fenced({"updates": rows}), len(rows)

    def _flush(self, ignore_errors=False):
        """Sends the outbox in order; a report leaves it only once the server has taken it. Only
        what was reported before the flush began: rows logged meanwhile wait for the next flush
        (chasing them would post a few rows at a time, as fast as the trainer makes them)."""
        with self._sending:
            with self._lock:
                budget = len(self._outbox)
            while True:
                kind, body, n = self._next_report(budget)
                if kind is None:
                    return
                try:
                    # Throttled (429): wait as told, then send what piled up meanwhile in one bigger batch.
                    self._report(self._call("POST", self._path(kind), body, retry_throttled=False))
                except LrsweepError as e:
                    if e.status == 429 and not ignore_errors:
                        self._batch = self._BATCH_THROTTLED
                        time.sleep(_jittered(getattr(e, "retry_after", None) or 1.0))
                        # What piled up meanwhile goes out too, in the bigger batches.
                        with self._lock:
                            budget = len(self._outbox)
                        continue
                    if e.code in ("STALE_ATTEMPT", "SCHEDULE_MISMATCH", "LEASE_MISMATCH"):
                        with self._lock:
                            self._outbox = []
                        if ignore_errors or e.code == "STALE_ATTEMPT":
                            return
                    if ignore_errors:
                        return
                    raise
                except Exception:
                    if ignore_errors:
                        return
                    raise
                with self._lock:
                    del self._outbox[:n]
                budget -= n

    def _flush_loop(self):
        while not self._ended:
            time.sleep(self._FLUSH_EVERY)
            if self._ended:
                return
            try:
                self._flush()
            except Exception:  # retried on the next round; evaluate/complete surface errors
                pass

    def _lease_loop(self):
        every = max(0.2, self.lease_ms / 3000.0)
        while not self._ended:
            time.sleep(every)
            if self._ended:
                return
            try:
                self._report(self._call("POST", self._path("lease"), self._fenced({}), renewal=True))
            except Exception:
                pass

    def _end(self):
        self._ended = True
        self._stop.set()


def _slurm_labels():
    """The Slurm job this agent runs in (none outside Slurm): its job id, and its array's id and task."""
    keys = (("SLURM_JOB_ID", "slurm_job_id"), ("SLURM_ARRAY_JOB_ID", "slurm_array_job_id"), ("SLURM_ARRAY_TASK_ID", "slurm_array_task_id"))
    return {label: os.environ[var][:200] for var, label in keys if os.environ.get(var)}


class Agent:
    """An agent of a pool: ``for trial in agent.trials(): ...`` claims one trial at a time."""

    def __init__(self, url=None, token=None, pool="default", name=None, labels=None):
        self._api = _Api(url or os.environ.get("LRSWEEP_API_URL", "http://127.0.0.1:3000"), token or os.environ.get("LRSWEEP_TOKEN", ""))
        self.pool = pool
        self.name = name or "%s-%d" % (socket.gethostname(), os.getpid())
        # At most 32, 4 096 characters in all (keys and values): shown in GET /v1/agents. Under
        # Slurm the job's ids come first, so `lrsweep slurm status` maps jobs to agents to trials.
        self.labels = dict(_slurm_labels(), **(labels or {}))
        self.id = None
        self._stopping = threading.Event()
        self._claiming = None
        self._heartbeat_ms = 10000

    def _register(self):
        framework = "python %d.%d" % sys.version_info[:2]
        device = None
        if "torch" in sys.modules:
            torch = sys.modules["torch"]
            framework = "pytorch %s" % torch.__version__
            device = "cuda:%s" % torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
        body = {"name": self.name, "pool": self.pool, "framework": framework, "host": socket.gethostname(), "sdk": "lrsweep-python/%s" % __version__, "protocolVersion": PROTOCOL_VERSION}
        if self.labels:
            body["labels"] = dict(self.labels)
        if device:
            body["device"] = device
        r = self._api.call("POST", "/v1/agents", body)
        self.id = r["agentId"]
        self._heartbeat_ms = r["heartbeatMs"]
        threading.Thread(target=self._heartbeat_loop, name="lrsweep-heartbeat", daemon=True).start()

    def _heartbeat_loop(self):
        while not self._stopping.is_set():
            self._stopping.wait(self._heartbeat_ms / 1000.0)
            try:
                self._api.call("POST", "/v1/agents/%s/heartbeat" % self.id, {}, retry_for=5)
            except Exception:
                pass

    def _on_sigterm(self, signum, frame):
        self._stopping.set()
        conn = self._claiming
        if conn is not None and getattr(conn, "sock", None) is not None:
            # Hang up a long poll in progress: the server then claims nothing for us.
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        """Ends ``trials()`` after the current trial, as SIGTERM does."""
        self._on_sigterm(None, None)

    def _claim(self, wait_s):
        def keep(conn):
            self._claiming = conn

        try:
            r = self._api.call("POST", "/v1/agents/%s/claim" % self.id, {"waitMs": int(wait_s * 1000)}, timeout=wait_s + 10, on_connection=keep)
        except _RETRYABLE:
            if self._stopping.is_set():
                return None
            raise
        finally:
            self._claiming = None
        return r["trial"]

    def trials(self, max_trials=None, idle_timeout=None):
        """Claimed trials, one at a time, until ``max_trials`` were handed out, no trial came for
        ``idle_timeout`` seconds, or SIGTERM (once the current trial is released: the last marker
        stands and another agent resumes it). The SDK never exits the process itself."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_sigterm)
        if self.id is None:
            self._register()
        handed = 0
        idle_since = time.monotonic()
        while not self._stopping.is_set() and (max_trials is None or handed < max_trials):
            wait = 20.0 if idle_timeout is None else max(0.0, min(20.0, idle_timeout - (time.monotonic() - idle_since)))
            data = self._claim(wait)
            if data is None:
                if idle_timeout is not None and time.monotonic() - idle_since >= idle_timeout:
                    return
                continue
            trial = Trial(self, data)
            if self._stopping.is_set():
                trial.release()
                return
            handed += 1
            try:
                yield trial
            finally:
                # A trial the trainer left open goes back to the queue (released, not failed).
                if not trial._ended:
                    trial.release()
            idle_since = time.monotonic()
        self._stopping.set()


# The notebook client (DataFrames, progress, plots); its optional dependencies load when used.
from .client import Client, Sweep  # noqa: E402
