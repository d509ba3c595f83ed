"""make report / python -m alexnet.report on a real sweep."""

import csv
import json

import optuna
import pytest
from PIL import Image

from alexnet.sweeps.report import study_report
from conftest import run_report, run_sweep


@pytest.mark.slow
def test_report_of_a_sweep(tmp_path):
    sweep = run_sweep(
        tmp_path,
        "-m",
        "optimizer.lr=0.003,0.03",
        "debug=limit",
        "logger=csv",
        "callbacks=none",
        "trainer.limit_train_batches=3",
    )
    report = run_report(sweep, cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    table = (sweep / "report.md").read_text()
    assert "| run | optimizer.lr | best val top-1 | best val top-5 | test top-1 | epochs |" in table
    rows = [
        line.strip("| ").split(" | ") for line in table.splitlines()[4:] if line.startswith("| ")
    ]
    assert sorted(row[0] for row in rows) == ["0", "1"]
    shown = [float(row[2].rstrip("%")) for row in rows]
    assert shown == sorted(shown, reverse=True)  # best validation top-1 first
    for run, lr, best, _, test, epochs, _ in rows:
        with open(sweep / run / "csv" / "metrics.csv") as f:
            val = [float(r["val/acc"]) for r in csv.DictReader(f) if r["val/acc"]]
        results = json.loads((sweep / run / "results.json").read_text())
        assert best == f"{max(val):.2%}" and test == f"{results['metrics']['test/acc']:.2%}"
        assert lr in ("0.003", "0.03") and epochs == "2"
    png = Image.open(sweep / "report.png")
    assert png.format == "PNG" and png.width > 600


def test_report_without_runs_is_a_user_error(tmp_path):
    report = run_report(tmp_path, cwd=tmp_path)
    assert report.returncode == 2 and "no runs" in report.stderr


def test_a_study_whose_trials_were_all_pruned_still_has_its_report(tmp_path, capsys):
    """No trial finished (no results.json anywhere), but the study has pruned trials:
    the report says so and writes the study's own report."""
    import optuna
    from optuna.trial import TrialState

    from alexnet.report import main
    from alexnet.sweeps.storage import PRUNED, open_storage

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=open_storage(storage))
    for value in (0.1, 0.2):
        trial = study.ask({"optimizer.lr": optuna.distributions.FloatDistribution(1e-3, 1e-1)})
        trial.report(value, step=0)
        trial.set_user_attr(PRUNED, {"epoch": 0, "metric": "val/acc", "value": value})
        study.tell(trial, state=TrialState.PRUNED)
    main([str(tmp_path)])
    assert "no finished runs (results.json)" in capsys.readouterr().out
    text = (tmp_path / "study.md").read_text()
    assert "| 0 | pruned after epoch 0 |" in text and "| 1 | pruned after epoch 0 |" in text


def test_a_study_whose_trials_tie_is_reported_without_importances(tmp_path):
    """fANOVA has no variance to explain when every trial has the same value."""
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=storage, study_name="tied", direction="maximize")
    for lr in (0.01, 0.1, 0.3):
        study.enqueue_trial({"optimizer.lr": lr})
        study.optimize(lambda trial: trial.suggest_float("optimizer.lr", 0.001, 1.0) * 0, 1)
    markdown, _ = study_report(storage, "tied", tmp_path)
    text = markdown.read_text()
    assert "## Best trial" in text and "importances" not in text
