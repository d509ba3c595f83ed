"""W&B goes offline by itself without credentials, and never prompts; the CSV log
continues across processes."""

import csv
import os
import pickle
import subprocess
import sys

import pytest
from lightning.pytorch.loggers import CSVLogger
from omegaconf import OmegaConf

from alexnet.adapters.lightning import ContinuingCSVLogger
from alexnet.loggers import (
    BackgroundWandbLogger,
    instantiate_loggers,
    wandb_has_credentials,
    wandb_settings,
)
from conftest import ROOT
from fixtures import read_wandb_log

WANDB_CFG = {
    "wandb": {
        "_target_": "lightning.pytorch.loggers.WandbLogger",
        "project": "test",
        "offline": False,
    }
}


def without_wandb_env(monkeypatch, tmp_path, netrc_text: str) -> None:
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "netrc").write_text(netrc_text)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))


def test_no_credentials_means_offline(monkeypatch, tmp_path):
    without_wandb_env(monkeypatch, tmp_path, "machine example.com login x password y\n")
    assert not wandb_has_credentials()
    (logger,) = instantiate_loggers(OmegaConf.create(WANDB_CFG))
    assert logger._offline


@pytest.mark.parametrize("mode", ["dryrun", "disabled"])
def test_a_run_that_is_not_online_logs_no_checkpoints(monkeypatch, tmp_path, mode):
    """dryrun: what Lightning's logger leaves behind for an offline run, which the next
    job of a sweep in the same process took for online; disabled: the benchmarks'
    tests. Both logged checkpoints as artifacts, and W&B kept a staged copy of each (37
    MB) in ~/.local/share/wandb, never uploaded."""
    without_wandb_env(monkeypatch, tmp_path, "machine api.wandb.ai login user password k\n")
    monkeypatch.setenv("WANDB_MODE", mode)
    config = {**WANDB_CFG["wandb"], "log_model": True}
    assert wandb_settings(config, None, None)["log_model"] is False


def test_a_wandb_login_keeps_it_online(monkeypatch, tmp_path):
    without_wandb_env(monkeypatch, tmp_path, "machine api.wandb.ai login user password k\n")
    assert wandb_has_credentials()
    (logger,) = instantiate_loggers(OmegaConf.create(WANDB_CFG))
    assert not logger._offline


def test_api_key_in_the_environment_counts(monkeypatch, tmp_path):
    without_wandb_env(monkeypatch, tmp_path, "")
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert wandb_has_credentials()


def log_in_two_processes(logger_class, tmp_path) -> list[dict]:
    """A writer created before the fit stage and sent to another process (as ddp_spawn's
    test stage receives it) logs after the fit stage's process has written the file."""
    fit = logger_class(tmp_path, name="csv", version="")
    fit.experiment  # noqa: B018  (created before the file exists, as in the main process)
    test = pickle.loads(pickle.dumps(fit))
    fit.log_metrics({"train/acc": 0.5}, step=0)
    fit.save()
    test.log_metrics({"test/acc": 0.25}, step=1)
    test.save()
    with open(tmp_path / "csv" / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_the_csv_log_keeps_the_columns_another_process_wrote(tmp_path):
    rows = log_in_two_processes(ContinuingCSVLogger, tmp_path)
    assert rows == [
        {"step": "0", "train/acc": "0.5", "test/acc": ""},
        {"step": "1", "train/acc": "", "test/acc": "0.25"},
    ]


def test_lightnings_csv_log_still_needs_the_adapter(tmp_path):
    """Fails when Lightning's CSVLogger keeps the file's columns itself: then
    ContinuingCSVLogger can go."""
    with pytest.raises(ValueError, match="dict contains fields not in fieldnames"):
        log_in_two_processes(CSVLogger, tmp_path)


def test_the_background_wandb_run_gets_what_was_logged_before_it_started(tmp_path):
    """A real offline W&B run, started on its thread after the hyperparameters and a
    metric were logged: both reach it, in order; its id was known before it started."""
    logger = BackgroundWandbLogger(project="test", save_dir=str(tmp_path), offline=True)
    known_id = logger.version
    logger.log_hyperparams({"optimizer": {"lr": 0.01}})
    logger.log_metrics({"lr-SGD": 0.01}, step=0)
    assert logger._experiment is None  # nothing started: queued
    logger.start_in_background()
    logger.log_metrics({"train/loss_step": 2.3}, step=1)  # while it starts: its turn
    run = logger.experiment  # the stand-in, or the run
    assert run.id == known_id
    run.finish()
    (run_dir,) = (tmp_path / "wandb").glob("offline-run-*")
    records = read_wandb_log(run_dir)
    logged = [
        {
            key
            for item in r.history.item
            if not (key := item.key or "/".join(item.nested_key)).startswith("_")
        }
        for r in records
        if r.HasField("history")
    ]
    assert [keys - {"trainer/global_step"} for keys in logged] == [{"lr-SGD"}, {"train/loss_step"}]
    configs = [item.key for r in records if r.HasField("config") for item in r.config.update]
    assert "optimizer" in configs


PARENT_WITH_A_WANDB_SERVICE = """
import os, signal, subprocess, sys, time
from pathlib import Path
import wandb

parent = wandb.init(mode="offline", dir=sys.argv[1])  # its service's token: WANDB_SERVICE
assert "WANDB_SERVICE" in os.environ
train, run = sys.argv[2], Path(sys.argv[1]) / "run"
smaller = ["trainer.max_epochs=2", "fault_tolerance.checkpoint_every_n_steps=2", "test=false"]
killed = subprocess.Popen([sys.executable, train, *smaller, f"hydra.run.dir={run}"])
while not (run / "checkpoints" / "last.ckpt").exists():
    assert killed.poll() is None, "the run ended before its first checkpoint"
    time.sleep(0.01)
killed.send_signal(signal.SIGKILL)
killed.wait()
resumed = subprocess.run([sys.executable, train, *smaller, f"resume={run}"])
parent.finish()
sys.exit(resumed.returncode)
"""


@pytest.mark.slow
def test_a_run_started_by_a_process_using_wandb_resumes_after_kill_9(tmp_path):
    """A parent that uses W&B (a notebook, a driver script, pytest) hands its W&B service
    to the commands it starts (WANDB_SERVICE): a run killed with SIGKILL left its W&B run
    open in the parent's service, and its resume failed ("run ID ... is in use"). Each
    run starts a service of its own."""
    (tmp_path / "parent.py").write_text(PARENT_WITH_A_WANDB_SERVICE)
    parent = subprocess.run(
        [sys.executable, tmp_path / "parent.py", str(tmp_path), str(ROOT / "train.py")],
        cwd=tmp_path,
        env={**os.environ, "WANDB_MODE": "offline"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert parent.returncode == 0, parent.stderr[-3000:]
    assert "is in use" not in parent.stderr
