"""make report / python -m alexnet.report on a real sweep."""

import subprocess
import sys

from PIL import Image

from conftest import run_sweep


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
    report = subprocess.run(
        [sys.executable, "-m", "alexnet.report", str(sweep)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert report.returncode == 0, report.stderr
    table = (sweep / "report.md").read_text()
    assert "| run | optimizer.lr | best val top-1 | best val top-5 | test top-1 | epochs |" in table
    rows = [
        line for line in table.splitlines() if line.startswith("| 0 ") or line.startswith("| 1 ")
    ]
    assert len(rows) == 2 and all("%" in row and "| 2 |" in row for row in rows)
    png = Image.open(sweep / "report.png")
    assert png.format == "PNG" and png.width > 600


def test_report_without_runs_is_a_user_error(tmp_path):
    report = subprocess.run(
        [sys.executable, "-m", "alexnet.report", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert report.returncode == 2 and "no runs" in report.stderr
