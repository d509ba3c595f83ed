"""Multirun sweeps: one run dir and one W&B run per job, grouped; Optuna; resuming W&B."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import torch
import yaml

from alexnet.tasks.train import train
from conftest import ROOT, compose_config, run_script, run_sweep, run_task
from fixtures import read_wandb_log

FAST = ["debug=fast_dev_run", "data.batch_size=4", "logger=wandb", "callbacks=none"]


def wandb_run(job_dir):
    (run_dir,) = (job_dir / "wandb").glob("offline-run-*")
    return next(r.run for r in read_wandb_log(run_dir) if r.HasField("run"))


def log_span(log: Path) -> tuple[datetime, datetime]:
    """When a run's log file begins and ends."""
    stamps = re.findall(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+)\]", log.read_text(), re.M)
    first, last = (datetime.strptime(s, "%Y-%m-%d %H:%M:%S,%f") for s in (stamps[0], stamps[-1]))
    return first, last


@pytest.mark.slow
def test_two_by_two_sweep_with_the_local_parallel_launcher(tmp_path):
    sweep_dir = run_sweep(
        tmp_path,
        "-m",
        "launcher=local",
        "optimizer.lr=0.003,0.01",
        "model=alexnet_mini,alexnet_bn",
        *FAST,
    )
    jobs = sorted(p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit())
    assert [p.name for p in jobs] == ["0", "1", "2", "3"]
    seen = set()
    for job in jobs:
        overrides = (job / ".hydra" / "overrides.yaml").read_text()
        seen.add(
            tuple(sorted(x for x in overrides.split() if x.startswith(("optimizer", "model"))))
        )
        assert 0 <= json.loads((job / "results.json").read_text())["metrics"]["test/acc"] <= 1
    assert len(seen) == 4  # every combination ran once
    for job in jobs:  # a worker process runs several jobs: each logs to its own file
        assert (job / "train.log").read_text().count("] - results: ") == 1
    spans = [log_span(job / "train.log") for job in jobs]
    assert spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1]  # 0 and 1 ran together
    runs = [wandb_run(job) for job in jobs]
    assert len({run.run_id for run in runs}) == 4  # each job is its own W&B run
    assert {run.run_group for run in runs} == {sweep_dir.name}  # grouped by sweep
    assert {run.job_type for run in runs} == {"sweep"}


@pytest.mark.slow
def test_optuna_search_returns_the_optimised_metric(tmp_path):
    """Three trials, the last two chosen by TPE's model (one random start-up trial); the
    value each trial hands to Optuna is its val/acc_best."""
    result = run_script(
        "train.py",
        "hparams_search=alexnet_optuna",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.sampler.seed=1234",
        "hydra.sweeper.sampler.n_startup_trials=1",
        "debug=limit",
        "trainer.max_epochs=1",
        "logger=csv",
        "callbacks=none",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sweep_dir = tmp_path / "logs/train/sweeps/alexnet_optuna"  # a folder per study
    best = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    jobs = [json.loads(p.read_text()) for p in sorted(sweep_dir.glob("*/results.json"))]
    assert len(jobs) == 3
    assert best["best_value"] == max(job["metrics"]["val/acc_best"] for job in jobs)
    assert set(best["best_params"]) == {
        "optimizer.lr",
        "optimizer.weight_decay",
        "data.batch_size",
        "model.dropout",
    }


@pytest.mark.slow
def test_resuming_continues_the_same_wandb_run(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    short = [
        "trainer.limit_train_batches=2",
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        "~callbacks.progress_bar",
        "logger=wandb",
    ]
    run_task(train, compose_config(first, "trainer.max_epochs=1", *short))
    last = first / "checkpoints" / "last.ckpt"
    run_id = torch.load(last, weights_only=True)["wandb_run_id"]
    run_task(train, compose_config(second, "trainer.max_epochs=2", f"ckpt_path={last}", *short))
    assert wandb_run(first).run_id == wandb_run(second).run_id == run_id


def submitit_task_pid() -> int:
    """The process of the running submitit task (python -m submitit.core._submit)."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if b"submitit.core._submit" in (proc / "cmdline").read_bytes():
                return int(proc.name)
        except OSError:
            continue
    raise LookupError("no submitit task is running")


@pytest.mark.slow
def test_submitit_local_requeues_a_preempted_job_which_resumes(tmp_path):
    """The SLURM launcher's code path (submitit) with its local executor: submitit's
    preemption signal makes the job checkpoint; submitit requeues it; the job resumes."""
    sweep = subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), "-m", "launcher=submitit_local", "seed=7"]
        + ["trainer.max_epochs=3", "+trainer.limit_train_batches=30", "logger=csv", "test=false"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob("logs/train/multiruns/*/0/checkpoints/last.ckpt")):
        assert sweep.poll() is None and time.monotonic() < deadline, sweep.stdout.read()
        time.sleep(0.1)
    os.kill(submitit_task_pid(), signal.SIGUSR2)
    output, _ = sweep.communicate(timeout=600)
    assert sweep.returncode == 0, output[-3000:]
    (job,) = tmp_path.glob("logs/train/multiruns/*/0")
    (resumed,) = json.loads((job / "resumes.json").read_text())
    assert resumed["epoch"] >= 1
    assert json.loads((job / "results.json").read_text())["epochs"] == 3
    logs = "".join(p.read_text() for p in job.parent.glob(".submitit/*/*_log.*"))
    assert "Requeued job" in logs
