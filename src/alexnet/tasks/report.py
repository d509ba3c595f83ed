"""Compare runs without a dashboard: a markdown table and a PNG of learning curves
(the command: ``python -m alexnet.report``, alexnet/report.py).

    python -m alexnet.report logs/train/multiruns/<sweep>          # or: make report RUNS=...
    python -m alexnet.report logs/train/runs/<a> logs/train/runs/<b>
    python -m alexnet.report logs/train/sweeps/<study>       # + the Optuna study (study_report)

Each argument is a run directory (it holds results.json) or a folder of them, such as a
sweep. ``report.md`` and ``report.png`` are written into the folder the runs share.
"""

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from alexnet.console import inform
from alexnet.errors import UserError


@dataclass
class Run:
    """What a finished run left in its directory."""

    path: Path
    overrides: dict[str, str]
    results: dict
    curves: dict[str, list[tuple[int, float]]]  # metric → (epoch, value) per epoch

    def best(self, metric: str) -> float | None:
        values = [v for _, v in self.curves.get(metric, [])]
        return max(values) if values else self.results["metrics"].get(metric)


def find_runs(paths: list[Path], results: str = "results.json") -> list[Path]:
    """The run directories in or under ``paths``: those with a ``results`` file
    (train.py's results.json; eval.py's metrics.json)."""
    found = []
    for path in paths:
        if (path / results).is_file():
            found.append(path)
        else:
            found += sorted(p.parent for p in path.rglob(results))
    return sorted(set(found))


def read_curves(metrics_csv: Path) -> dict[str, list[tuple[int, float]]]:
    """Per-epoch values of every metric in Lightning's CSV log."""
    curves: dict[str, list[tuple[int, float]]] = {}
    if not metrics_csv.is_file():
        return curves
    with open(metrics_csv) as f:
        for row in csv.DictReader(f):
            for name, value in row.items():
                if value and name not in ("epoch", "step") and row.get("epoch"):
                    curves.setdefault(name, []).append((int(row["epoch"]), float(value)))
    return curves


def read_run(path: Path, results_file: str = "results.json") -> Run:
    overrides_file = path / ".hydra" / "overrides.yaml"
    overrides = yaml.safe_load(overrides_file.read_text()) if overrides_file.is_file() else []
    pairs = dict(o.lstrip("+~").split("=", 1) for o in overrides or [] if "=" in o)
    results = json.loads((path / results_file).read_text())
    return Run(path, pairs, results, read_curves(path / "csv" / "metrics.csv"))


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def differing_overrides(runs: list[Run]) -> list[str]:
    """The override keys whose values are not the same in every run."""
    keys = sorted({k for run in runs for k in run.overrides})
    return [k for k in keys if len({run.overrides.get(k) for run in runs}) > 1]


def markdown_table(runs: list[Run], root: Path) -> str:
    """One row per run: the overrides that differ between runs, best val top-1/top-5,
    test top-1, epochs and wall time; sorted by best val top-1."""
    differing = differing_overrides(runs)
    header = ["run", *differing, "best val top-1", "best val top-5", "test top-1", "epochs", "time"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    ranked = sorted(runs, key=lambda r: r.best("val/acc") or 0.0, reverse=True)
    for run in ranked:
        cells = [
            os.path.relpath(run.path, root),
            *(run.overrides.get(k, "") for k in differing),
            percent(run.best("val/acc")),
            percent(run.best("val/acc_top5")),
            percent(run.results["metrics"].get("test/acc")),
            str(run.results.get("epochs", "-")),
            f"{run.results.get('seconds', 0):.0f} s",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_curves(runs: list[Run], root: Path, path: Path) -> Path:
    """Validation top-1 and training loss per epoch, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(12, 4.5))
    differing = differing_overrides(runs)
    for run in runs:
        named = " ".join(f"{k}={run.overrides.get(k, '')}" for k in differing)
        label = f"{os.path.relpath(run.path, root)}: {named}" if named else run.path.name
        for ax, metric in ((acc_ax, "val/acc"), (loss_ax, "train/loss_epoch")):
            points = run.curves.get(metric, [])
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", label=label)
    acc_ax.set(title="validation top-1 accuracy", xlabel="epoch", ylabel="accuracy")
    loss_ax.set(title="training loss", xlabel="epoch", ylabel="cross-entropy")
    for ax in (acc_ax, loss_ax):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles, labels = acc_ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, bbox_to_anchor=(0.5, -0.12))
    fig.suptitle(f"{len(runs)} runs under {root}", fontsize=9)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def report(paths: list[Path]) -> tuple[Path, Path]:
    """Write report.md and report.png for the runs in ``paths``; returns their paths."""
    run_dirs = find_runs(paths)
    if not run_dirs:
        raise UserError(
            f"no runs (folders with results.json) in {' '.join(map(str, paths))}: give run "
            "folders or a sweep's folder (logs/train/runs/<run>, logs/train/multiruns/<sweep>)"
        )
    runs = [read_run(p) for p in run_dirs]
    root = Path(os.path.commonpath([p.resolve() for p in run_dirs]))
    if root in [p.resolve() for p in run_dirs]:
        root = root.parent  # a single run: write next to it
    table = markdown_table(runs, root)
    markdown, png = root / "report.md", root / "report.png"
    plot_curves(runs, root, png)
    markdown.write_text(
        f"# {len(runs)} runs under {root}\n\n{table}\n![learning curves](report.png)\n"
    )
    inform(table)
    inform(f"wrote {markdown} and {png}")
    return markdown, png
