"""The framework integrations' own rules, without a server."""

import pytest


class Trial:
    total_steps, eval_every, base_lr, seed, resume_step = 40, 10, 0.01, 3, 0


def test_transformers_refuses_what_the_trial_decides():
    pytest.importorskip("transformers")
    from lrsweep.integrations.transformers import _val_name, training_args

    args = training_args(Trial(), "/tmp/x", per_device_train_batch_size=4)
    assert (args.max_steps, args.learning_rate, args.seed, args.logging_steps) == (40, 0.01, 3, 1)
    for key in ("max_steps", "learning_rate", "seed", "lr_scheduler_type"):
        with pytest.raises(ValueError, match=key):
            training_args(Trial(), "/tmp/x", **{key: 1})
    with pytest.raises(ValueError, match="save_total_limit"):
        training_args(Trial(), "/tmp/x", save_total_limit=1)
    assert (_val_name("eval_loss"), _val_name("eval_accuracy"), _val_name("eval_f1")) == ("val_loss", "val_acc", "val_f1")


def test_lightning_names_and_cadence():
    pytest.importorskip("lightning")
    from lrsweep.integrations.lightning import _name, trainer_kwargs

    assert (_name("val/acc"), _name("val_accuracy"), _name("test/loss")) == ("val_acc", "val_acc", "test_loss")
    kw = trainer_kwargs(Trial(), accumulate_grad_batches=4)
    assert (kw["max_steps"], kw["val_check_interval"], kw["check_val_every_n_epoch"]) == (40, 40, None)
    with pytest.raises(ValueError, match="max_steps"):
        trainer_kwargs(Trial(), max_steps=3)


def test_keras_metric_names(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    pytest.importorskip("keras")
    from lrsweep.integrations.keras import _named

    assert _named("val", {"loss": 1.5, "accuracy": 0.5, "auc": 0.7}) == {"val_loss": 1.5, "val_acc": 0.5, "val_auc": 0.7}
