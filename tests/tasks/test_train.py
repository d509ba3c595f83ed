"""The training task, run for real on digits and on a CIFAR-10 fixture."""

import csv
import json
import math

import pytest
import torch

from alexnet.tasks.train import train
from conftest import compose_config, run_task
from fixtures import read_wandb_log

MODELS = ["alexnet", "alexnet_bn", "alexnet_mini", "alexnet_torchvision"]
QUIET = [
    "callbacks=none",
    "logger=csv",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
]


@pytest.mark.parametrize("model", MODELS)
def test_fast_dev_run_on_digits(model, tmp_path):
    cfg = compose_config(
        tmp_path, f"model={model}", "debug=fast_dev_run", "data.batch_size=4", *QUIET
    )
    metrics = run_task(train, cfg)
    assert {"train/loss_epoch", "train/acc", "test/acc", "test/acc_top5"} <= set(metrics)


@pytest.mark.parametrize("model", MODELS)
def test_fast_dev_run_on_cifar10(model, tmp_path, cifar10_root):
    cfg = compose_config(
        tmp_path,
        f"model={model}",
        "data=cifar10",
        f"data.root={cifar10_root}",
        "data.val_size=10",
        "data.batch_size=4",
        "data.num_workers=0",
        "debug=fast_dev_run",
        *QUIET,
    )
    metrics = run_task(train, cfg)
    assert 0.0 <= metrics["test/acc"] <= 1.0 and metrics["train/loss_epoch"] > 0


@pytest.mark.slow
def test_default_run_learns_digits(tmp_path):
    """`python train.py` as it is, but for the loggers: it must reach 95% test top-1."""
    metrics = run_task(train, compose_config(tmp_path, "logger=csv"))
    assert metrics["test/acc"] >= 0.95, metrics
    with open(tmp_path / "csv" / "metrics.csv") as f:
        per_epoch = [float(row["val/acc"]) for row in csv.DictReader(f) if row["val/acc"]]
    assert len(per_epoch) == 8 and metrics["val/acc_best"] == pytest.approx(max(per_epoch))
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    record = checkpoint["alexnet"]
    assert record["model"]["name"] == "alexnet_mini" and record["data"]["name"] == "digits"
    assert record["class_names"] == [str(d) for d in range(10)]


def short_run(tmp_path, *overrides):
    return compose_config(
        tmp_path,
        "trainer.limit_train_batches=3",
        "trainer.limit_val_batches=2",
        "trainer.limit_test_batches=2",
        "~callbacks.progress_bar",
        *overrides,
    )


def test_wandb_offline_run_holds_what_a_dashboard_compares(tmp_path):
    """A real offline run, read back from its .wandb log: the config as nested keys, the
    git commit, tags and job type, train curves per step and val curves per epoch on the
    trainer/global_step axis, and the headline figures in the summary."""
    overrides = ["trainer.max_epochs=2", "trainer.log_every_n_steps=1", "tags=[unit]"]
    run_task(train, short_run(tmp_path, "logger=wandb", *overrides))
    (run_dir,) = (tmp_path / "wandb").glob("offline-run-*")
    records = read_wandb_log(run_dir)
    kinds = [r.WhichOneof("record_type") for r in records]
    history = [
        {item.key or "/".join(item.nested_key): item.value_json for item in r.history.item}
        for r in records
        if r.HasField("history")
    ]
    steps = [h for h in history if "train/loss_step" in h]
    epochs = [h for h in history if "val/acc" in h]
    assert len(steps) == 6 and len(epochs) == 2  # 2 epochs of 3 steps
    assert all("trainer/global_step" in h for h in steps + epochs)
    assert [int(h["trainer/global_step"]) for h in epochs] == [2, 5]
    config = {
        item.key: json.loads(item.value_json)
        for r in records
        if r.HasField("config")
        for item in r.config.update
    }
    assert config["model"]["name"] == "alexnet_mini" and config["optimizer"]["lr"] == 0.002
    assert config["data"]["batch_size"] == 64 and config["git_commit"]
    summary = {
        item.key or "/".join(item.nested_key): json.loads(item.value_json)
        for r in records
        if r.HasField("summary")
        for item in r.summary.update
    }
    for key in (
        "val/acc_best",
        "test/acc",
        "test/acc_top5",
        "test/acc_error",
        "epochs",
        "wall_time_s",
        "train_img_per_s",
    ):
        assert key in summary, key
    assert summary["parameters"] == 3_072_538  # alexnet_mini, 10 classes, 1 channel
    assert summary["test/acc_error"] == pytest.approx(1 - summary["test/acc"])
    run = next(r.run for r in records if r.HasField("run"))
    assert list(run.tags) == ["unit"] and run.job_type == "train"
    assert "exit" in kinds  # the run was finished, so the next job starts a new one


def read_epochs(metrics_csv) -> set[int]:
    with open(metrics_csv) as f:
        return {int(row["epoch"]) for row in csv.DictReader(f) if row.get("val/acc")}


@pytest.mark.slow
def test_resume_continues_from_the_saved_epoch(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    run_task(train, short_run(first, "trainer.max_epochs=1", "logger=csv"))
    last = first / "checkpoints" / "last.ckpt"
    steps_after_one = torch.load(last, weights_only=True)["global_step"]
    run_task(train, short_run(second, "trainer.max_epochs=3", "logger=csv", f"ckpt_path={last}"))
    resumed = torch.load(second / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed["epoch"] == 3 and resumed["global_step"] == 3 * steps_after_one
    assert read_epochs(second / "csv" / "metrics.csv") == {1, 2}


def cosine(step: int, total: int, warmup: int = 1, lr: float = 0.002) -> float:
    """Warm-up + cosine, written out: 1% of lr at step 0, lr at the end of the warm-up,
    0 at ``total``."""
    if step < warmup:
        return lr * (0.01 + 0.99 * step / warmup)
    return lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))


@pytest.mark.slow
def test_resuming_with_more_epochs_follows_the_schedule_for_the_new_length(tmp_path):
    """Warm-up + cosine stepped per batch (3 a epoch, warm-up round(0.3 · 3) = 1 step)
    over 2 epochs, resumed to 5: the rates at the starts of epochs 2-4 are those of the
    schedule over 15 steps, not of the old one (6 steps) cycling back up."""
    run = tmp_path / "run"
    run_task(train, short_run(run, "trainer.max_epochs=2", "logger=csv"))
    run_task(train, short_run(run, "trainer.max_epochs=5", "logger=csv", f"resume={run}"))
    with open(run / "csv" / "metrics.csv") as f:
        rates = [float(r["lr-AdamW"]) for r in csv.DictReader(f) if r["lr-AdamW"]]
    assert rates[:2] == pytest.approx([cosine(0, 6), cosine(3, 6)], rel=1e-6)
    assert rates[2:] == pytest.approx([cosine(s, 15) for s in (6, 9, 12)], rel=1e-6)


def test_logger_none_trains_without_a_logger(tmp_path):
    metrics = run_task(train, short_run(tmp_path, "trainer.max_epochs=1", "logger=none"))
    assert metrics["test/acc"] >= 0 and not (tmp_path / "csv").exists()
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
