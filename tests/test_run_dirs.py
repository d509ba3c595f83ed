"""A run directory belongs to one run, even when runs start in the same second."""

import json
import os
import subprocess
import sys

import pytest

from alexnet.run.resolvers import claim_new_dir, run_dir
from conftest import ROOT


def test_a_taken_name_gets_the_next_suffix(tmp_path):
    taken = tmp_path / "runs" / "2026-12-02_10-00-00"
    taken.mkdir(parents=True)  # another run started in this second
    (taken.parent / f"{taken.name}_2").mkdir()  # and another
    claimed = claim_new_dir(str(taken))
    assert claimed == f"{taken}_3" and os.path.isdir(claimed)
    assert claim_new_dir(str(taken)) == claimed  # resolved again in this run: the same
    assert run_dir(None, str(taken)) == claimed


def test_processes_of_one_torchrun_job_share_the_name(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    shared = str(tmp_path / "runs" / "2026-12-02_10-00-01")
    assert claim_new_dir(shared) == shared and not os.path.exists(shared)


def train_together(cwd, commands: list[list[str]]) -> None:
    """Start ``train.py`` with each argument list at once (one thread each); all exit 0."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "train.py"), *arguments],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for arguments in commands
    ]
    for process in started:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-2000:]


@pytest.mark.slow
def test_runs_started_together_keep_their_own_files(tmp_path):
    """Three train.py runs started at once that name the same new run directory (as the
    default name does for runs in the same second; here fixed, so that they always
    meet): each its own directory, overrides, checkpoints and results."""
    same = tmp_path / "logs" / "train" / "runs" / "2026-12-02_10-00-00"
    run = ["hydra.run.dir=${run_dir:null," + str(same) + "}"]
    run += ["trainer.max_epochs=1", "trainer.limit_train_batches=2", "logger=csv"]
    run += ["trainer.limit_val_batches=1", "trainer.limit_test_batches=1"]
    train_together(tmp_path, [[*run, f"seed={seed}"] for seed in (1, 2, 3)])
    runs = sorted((tmp_path / "logs" / "train" / "runs").iterdir())
    assert [p.name for p in runs] == [same.name, f"{same.name}_2", f"{same.name}_3"]
    seeds = set()
    for run_dir_ in runs:
        overrides = (run_dir_ / ".hydra" / "overrides.yaml").read_text()
        (seed,) = [line.split("=")[1] for line in overrides.splitlines() if "seed=" in line]
        seeds.add(seed)
        results = json.loads((run_dir_ / "results.json").read_text())
        assert str(run_dir_) in results["best_checkpoint"]
        assert train_log_runs(run_dir_ / "train.log") == 1
    assert seeds == {"1", "2", "3"}


def train_log_runs(log) -> int:
    """How many runs wrote into this train.log (each writes its seed line once)."""
    return log.read_text().count("Seed set to")


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["basic", "local"])
def test_sweeps_started_together_keep_their_own_folders(launcher, tmp_path):
    """Two -m sweeps of two jobs each started at once, in the same second (the sweep
    folder's name fixed, so that they always meet): each sweep its own folder with its
    own two jobs, whether the jobs run in the sweep's process or in joblib's workers."""
    same = tmp_path / "logs" / "train" / "multiruns" / "2026-12-02_10-00-00"
    sweep = ["-m", "hydra.sweep.dir=${new_dir:" + str(same) + "}", "trainer.max_epochs=1"]
    sweep += ["trainer.limit_train_batches=2", "trainer.limit_val_batches=1", "logger=csv"]
    sweep += ["trainer.limit_test_batches=1"]
    sweep += ["launcher=local", "hydra.launcher.n_jobs=1"] if launcher == "local" else []
    train_together(tmp_path, [[*sweep, f"seed={a},{b}"] for a, b in ((1, 2), (3, 4))])
    sweeps = sorted(same.parent.iterdir())
    assert [p.name for p in sweeps] == [same.name, f"{same.name}_2"]
    seeds = set()
    for folder in sweeps:
        jobs = sorted(p for p in folder.iterdir() if p.name.isdigit())
        assert [p.name for p in jobs] == ["0", "1"]
        overrides = [(job / ".hydra" / "overrides.yaml").read_text() for job in jobs]
        mine = {text.split("seed=")[1][0] for text in overrides}
        assert mine in ({"1", "2"}, {"3", "4"})
        seeds |= mine
        for job in jobs:
            assert (job / "results.json").is_file() and train_log_runs(job / "train.log") == 1
    assert seeds == {"1", "2", "3", "4"}
