"""The figure callbacks write real PNGs (and log them to W&B); diagnostics log metrics."""

import csv

import pytest
from PIL import Image

from alexnet.tasks.train import train
from conftest import compose_config, run_task
from fixtures import read_wandb_log

SHORT = [
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=2",
    "test=false",
    "~callbacks.progress_bar",
]


def test_figures_are_pngs_in_the_run_dir_and_in_wandb(tmp_path):
    run_task(train, compose_config(tmp_path, *SHORT, "logger=wandb"))
    names = sorted(p.name for p in (tmp_path / "figures").glob("*.png"))
    assert names == [
        "confusion_matrix_epoch001.png",
        "conv1_filters_epoch001.png",
        "conv1_maps_epoch001.png",
        "val_predictions_epoch001.png",
    ]
    filters = Image.open(tmp_path / "figures" / "conv1_filters_epoch001.png")
    assert filters.width > 16 * 5 * 4  # 48 kernels, 16 a row, each 5×5 zoomed ×4
    (run_dir,) = (tmp_path / "wandb").glob("offline-run-*")
    logged = {
        item.key or "/".join(item.nested_key)
        for r in read_wandb_log(run_dir)
        if r.HasField("history")
        for item in r.history.item
    }
    assert any(key.startswith("figures/conv1_filters") for key in logged)


@pytest.mark.slow
def test_every_n_epochs_draws_each_chosen_epoch(tmp_path):
    overrides = [
        *SHORT,
        "logger=csv",
        "callbacks.conv1_filters.every_n_epochs=1",
        "~callbacks.validation_predictions",
    ]
    run_task(train, compose_config(tmp_path, *overrides))
    names = sorted(p.name for p in (tmp_path / "figures").glob("conv1_filters*"))
    assert names == ["conv1_filters_epoch000.png", "conv1_filters_epoch001.png"]


def test_diagnostics_log_activation_stats_and_gradient_norms(tmp_path):
    overrides = [
        *SHORT,
        "logger=csv",
        "callbacks=with_diagnostics",
        "callbacks.training_diagnostics.every_n_steps=2",
        "trainer.log_every_n_steps=1",
    ]
    run_task(train, compose_config(tmp_path, *overrides))
    with open(tmp_path / "csv" / "metrics.csv") as f:
        rows = [row for row in csv.DictReader(f) if row.get("act/features.2/dead")]
    assert rows, "no activation statistics were logged"
    dead = float(rows[0]["act/features.2/dead"])
    assert 0.0 <= dead <= 1.0
    assert float(rows[0]["grad_2.0_norm_total"]) > 0
