"""The SDK's own logic, without a server: Slurm labels, parameter groups as the API takes them,
and the torch scheduler's per-group rates."""

import lrsweep
import pytest


def test_slurm_labels_come_from_the_job(monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "123")
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "120")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    agent = lrsweep.Agent(url="http://127.0.0.1:1", token="t", labels={"team": "vision"})
    assert agent.labels == {"slurm_job_id": "123", "slurm_array_job_id": "120", "slurm_array_task_id": "3", "team": "vision"}
    for var in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"):
        monkeypatch.delenv(var)
    assert lrsweep.Agent(url="http://127.0.0.1:1", token="t").labels == {}


class Recorder(lrsweep.Trial):
    """A trial whose API calls are recorded, and whose rates are a table."""

    def __init__(self, rates, resume_step=0):  # noqa: D107 (no server: only what the tested code reads)
        self.calls = []
        self.rates = rates
        self.base_lr = rates[0] if rates[0] > 0 else 1.0
        self.total_steps = len(rates)
        self.resume_step = resume_step
        self.attempt = 1
        self.lease_token = "lease"

    def lr(self, step):
        return self.rates[step]

    def _call(self, method, path, body=None, renewal=False, retry_throttled=True):
        self.calls.append((method, path, body))
        return {"ok": True, "shouldStop": False}

    def _path(self, what):
        return "/v1/trials/t/%s" % what


def test_scheduler_keeps_each_group_multiple_and_declares_the_groups():
    torch = pytest.importorskip("torch")
    head, body = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    rates = [0.1, 0.05, 0.025, 0.0125]
    trial = Recorder(rates)
    opt = torch.optim.SGD(
        [{"params": head.parameters(), "name": "head"}, {"params": body.parameters(), "name": "body", "lr": 0.01}],
        lr=0.1,
        weight_decay=0.01,
    )
    sched = trial.scheduler(opt)
    seen = []
    for _ in rates:
        seen.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    assert [s[0] for s in seen] == pytest.approx(rates, rel=1e-12)
    assert [s[1] for s in seen] == pytest.approx([0.1 * r for r in rates], rel=1e-12)
    (method, path, sent), = trial.calls
    assert (method, path) == ("POST", "/v1/trials/t/param-groups")
    assert sent["groups"] == [
        {"name": "head", "lrMultiplier": 1.0, "weightDecay": 0.01},
        {"name": "body", "lrMultiplier": pytest.approx(0.1), "weightDecay": 0.01},
    ]
    assert sent["attempt"] == 1 and sent["leaseToken"] == "lease"
