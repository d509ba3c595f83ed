"""What the README promises, run as it says: the commands and what they must leave."""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits

from alexnet.tasks.train import train
from conftest import ROOT, compose_config, max_abs_difference, run_script, run_task, wait_for_glob

QUICK = ["trainer.limit_train_batches=4", "trainer.limit_val_batches=2", "~callbacks.progress_bar"]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """What `make train` leaves: the default run, loggers and callbacks as they are, for two
    epochs."""
    run = tmp_path_factory.mktemp("digits") / "run"
    run_task(train, compose_config(run, "trainer.max_epochs=2"))
    yield run
    shutil.rmtree(run.parent)


@pytest.mark.slow
def test_the_run_directory_holds_what_the_readme_lists(digits_run):
    results = json.loads((digits_run / "results.json").read_text())
    with open(digits_run / "csv" / "metrics.csv") as f:
        val = [(int(r["epoch"]), float(r["val/acc"])) for r in csv.DictReader(f) if r["val/acc"]]
    best_epoch = max(val, key=lambda ev: ev[1])[0]  # the first epoch with the best val/acc
    assert results["best_checkpoint"].endswith(f"epoch_{best_epoch:03d}.ckpt")
    tested = torch.load(results["best_checkpoint"], weights_only=True)
    assert tested["epoch"] == best_epoch
    last = torch.load(digits_run / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 40 and not list((digits_run / "checkpoints").glob("last-v*"))
    names = {p.name for p in (digits_run / "figures").iterdir()}
    assert {"conv1_filters_epoch001.png", "confusion_matrix_epoch001.png"} <= names


def test_a_command_line_run_writes_its_log_and_config(tmp_path):
    result = run_script("train.py", "debug=fast_dev_run", "trainer.fast_dev_run=2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "logs" / "train" / "runs").iterdir()
    assert "fast_dev_run" in (run_dir / ".hydra" / "overrides.yaml").read_text()
    assert "name: alexnet_mini" in (run_dir / ".hydra" / "config.yaml").read_text()
    assert "Seed set to 42" in (run_dir / "train.log").read_text()


@pytest.mark.slow
def test_predict_and_features_on_the_default_runs_checkpoint(digits_run, tmp_path):
    """predict.py on a digit drawn as a user would (bright ink, dark paper, 64×64), and
    features.py with no data= (the checkpoint's own digits, test split)."""
    digits = load_digits()
    Image.fromarray((digits.images[0] * 16).astype(np.uint8)).resize((64, 64)).save(
        tmp_path / "zero.png"
    )
    ckpt = digits_run / "checkpoints" / "last.ckpt"
    predicted = run_script(
        "predict.py", f"ckpt_path={ckpt}", f"inputs=[{tmp_path / 'zero.png'}]", cwd=tmp_path
    )
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    (run_dir,) = (tmp_path / "logs" / "predict" / "runs").iterdir()
    (result,) = json.loads((run_dir / "predictions.json").read_text())
    assert len(result["top"]) == 5 and {t["class"] for t in result["top"]} <= set("0123456789")

    features = run_script("features.py", f"ckpt_path={ckpt}", cwd=tmp_path)
    assert features.returncode == 0, features.stderr[-3000:]
    (run_dir,) = (tmp_path / "logs" / "features" / "runs").iterdir()
    saved = torch.load(run_dir / "features_test.pt", weights_only=True)
    assert saved["features"].shape == (270, 1024)  # digits' test split, alexnet_mini's fc7


@pytest.mark.slow
def test_export_with_its_defaults_writes_beside_the_checkpoint(digits_run, tmp_path):
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes((digits_run / "checkpoints" / "last.ckpt").read_bytes())
    result = run_script("export.py", f"ckpt_path={ckpt}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    written = {p.name for p in tmp_path.iterdir()}
    assert {"model.ts", "model.onnx", "model.preprocessing.json"} <= written


@pytest.mark.slow
def test_sweep_with_ddp_spawn(tmp_path):
    """`python train.py -m trainer=ddp_cpu trainer.strategy=ddp_spawn seed=1,2
    trainer.max_epochs=1` as written, its loggers and callbacks on, only fewer batches.
    Each job's test stage runs in new processes after its fit stage: its CSV log keeps
    the fit stage's columns (it failed on them before)."""
    result = run_script(
        "train.py",
        "-m",
        "trainer=ddp_cpu",
        "trainer.strategy=ddp_spawn",
        "seed=1,2",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=3",
        "trainer.limit_val_batches=2",
        "trainer.limit_test_batches=2",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    assert not (tmp_path / "logs" / "train" / "runs").exists()  # no single-run folder
    for job in ("0", "1"):
        results = json.loads((sweep / job / "results.json").read_text())
        assert 0 <= results["metrics"]["test/acc"] <= 1
        with open(sweep / job / "csv" / "metrics.csv") as f:
            rows = list(csv.DictReader(f))
        assert any(r["val/acc"] for r in rows) and any(r["test/acc"] for r in rows)
        assert list((sweep / job / "wandb").glob("offline-run-*"))


def learning_rates(run) -> list[float]:
    with open(run / "csv" / "metrics.csv") as f:
        return [
            float(r["lr-" + r_key])
            for r in csv.DictReader(f)
            for r_key in ("SGD", "AdamW")
            if r.get("lr-" + r_key)
        ]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["optimizer=sgd", "scheduler=none"], [0.01, 0.01, 0.01]),
        (["optimizer=sgd", "scheduler=step", "scheduler.milestones=[1,2]"], [0.01, 0.001, 1e-4]),
        (["scheduler=none"], [0.002, 0.002, 0.002]),  # the default optimizer: AdamW
    ],
    ids=["sgd-none", "sgd-step", "adamw"],
)
def test_schedules_and_optimizers_train(overrides, expected, tmp_path):
    run_task(
        train, compose_config(tmp_path, *QUICK, "trainer.max_epochs=3", "logger=csv", *overrides)
    )
    assert learning_rates(tmp_path) == pytest.approx(expected)
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    group = saved["optimizer_states"][0]["param_groups"][0]
    assert ("betas" in group) == ("optimizer=sgd" not in overrides)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("every", "epochs", "expected"),
    [(1, 4, [1e-9, 1e-9, 1e-10, 1e-11]), (2, 6, [1e-9, 1e-9, 1e-9, 1e-9, 1e-10, 1e-10])],
    ids=["validated every epoch", "every second epoch"],
)
def test_plateau_lowers_the_rate_when_validation_stops_improving(every, epochs, expected, tmp_path):
    """scheduler=plateau with patience 0 and a rate too small to learn (and no BatchNorm,
    whose statistics would move): val/acc stays at its first value, so from the second
    validation on the rate is divided by ten after each one (eps=0: torch skips changes
    smaller than 1e-8); between validations it is left alone, not stepped on the last
    validation's value again."""
    overrides = [
        "scheduler=plateau",
        "scheduler.patience=0",
        "+scheduler.eps=0",
        "optimizer.lr=1e-9",
        f"trainer.check_val_every_n_epoch={every}",
        f"trainer.max_epochs={epochs}",
    ]
    run_task(train, compose_config(tmp_path, *QUICK, "logger=csv", "model.norm=none", *overrides))
    assert learning_rates(tmp_path) == pytest.approx(expected, rel=1e-6)


def test_label_smoothing_changes_the_loss(tmp_path):
    losses = []
    for smoothing in (0.0, 0.3):
        run = tmp_path / str(smoothing)
        run_task(
            train,
            compose_config(
                run,
                *QUICK,
                "trainer.max_epochs=1",
                "logger=csv",
                "test=false",
                f"label_smoothing={smoothing}",
                "trainer.log_every_n_steps=1",
            ),
        )
        with open(run / "csv" / "metrics.csv") as f:
            losses.append(
                [float(r["train/loss_step"]) for r in csv.DictReader(f) if r["train/loss_step"]]
            )
    assert len(losses[0]) == 4 and losses[0] != losses[1]


@pytest.mark.slow
@pytest.mark.skipif(
    not Path("/usr/share/wallpapers/Autumn").is_dir(),
    reason="needs Debian's photographs: apt-get install plasma-workspace-wallpapers",
)
def test_the_prepared_photos_commands_train_and_resume_after_kill_9(tmp_path):
    """README, "Photographs at GPU speed": a real photo folder made from Debian's
    wallpapers, prepared, trained with the paper's pipeline; killed with SIGKILL and
    resumed with resume=last, it ends with the weights of a run never stopped."""
    made = run_script(
        "experiments/benchmarks/prepared_data/make_photos.py", "photos",
        "--classes", "3", "--per-class", "10", cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr[-3000:]
    data = ["data=image_folder", "data.root=photos", "data.preset=paper", "model=alexnet"]
    prepared = run_script("prepare.py", *data, cwd=tmp_path)
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    assert "prepared: " in prepared.stdout and (tmp_path / "data" / "prepared").is_dir()
    smaller = [
        "data.prepared.use=true",
        "data.batch_size=8",
        "trainer.max_epochs=2",
        "fault_tolerance.checkpoint_every_n_steps=2",
        "trainer.deterministic=true",
        "test=false",
    ]
    whole = run_script("train.py", *data, *smaller, "hydra.run.dir=whole", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr[-3000:]
    killed = subprocess.Popen(  # into logs/train/runs/, where resume=last looks
        [sys.executable, str(ROOT / "train.py"), *data, *smaller], cwd=tmp_path
    )
    runs = tmp_path / "logs" / "train" / "runs"
    wait_for_glob(runs, "*/checkpoints/last.ckpt", killed)
    killed.kill()
    killed.wait()
    resumed = run_script("train.py", *data, *smaller, "resume=last", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    (run,) = runs.iterdir()
    last = "checkpoints/last.ckpt"
    assert max_abs_difference(tmp_path / "whole" / last, run / last) == 0.0
    (resume,) = json.loads((run / "resumes.json").read_text())
    final = torch.load(tmp_path / "whole" / last, weights_only=True)["global_step"]
    assert resume["global_step"] < final  # killed before the end
