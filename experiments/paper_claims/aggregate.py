"""The paper's claims, aggregated: per claim a table (mean ± std over seeds, the paper's
figure beside it, a verdict) and a plot (a curve per arm with a band over seeds).

    python experiments/paper_claims/aggregate.py RESULTS_DIR [--out experiments/paper_claims]

RESULTS_DIR holds one sweep directory per claim (run_claims.py writes them); each run
directory is read with the project's report code (alexnet.report).
"""

import argparse
import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from alexnet.report import Run, find_runs, read_run


@dataclass
class Claim:
    """What a claim compares and how its result is judged.

    Args:
        title: the paper's claim, briefly, with its section.
        arm_key: the override that tells the arms apart.
        arms: (override value, label) for each arm; the first is the paper's choice, the
            second the alternative the paper compares it with (the verdict's pair).
        metric: ``test_error``, ``epochs_to_train_error``, ``train_test_gap``,
            ``final_train_error``, ``first_epoch_loss`` or ``ten_crop_error``.
        paper: the paper's figure, as text.
        better: ``lower`` when the paper's choice should give the lower value.
        also: a second metric, measured and shown without a verdict.
        paired: the arms measure the same runs (checkpoints) in the same order, so the
            verdict looks at the per-run differences.
    """

    title: str
    arm_key: str
    arms: list[tuple[str, str]]
    metric: str
    paper: str
    better: str = "lower"
    also: str | None = None
    paired: bool = False


CLAIMS = {
    "relu_tanh": Claim(
        "ReLU trains faster than tanh (3.1)",
        "model.activation",
        [("relu", "ReLU"), ("tanh", "tanh")],
        "epochs_to_train_error",
        "25% training error on CIFAR-10 six times faster (×6)",
    ),
    "lrn": Claim(
        "Local response normalisation lowers the error (3.3)",
        "model.norm",
        [("lrn", "LRN"), ("none", "none"), ("bn", "BatchNorm")],
        "test_error",
        "CIFAR-10 four-layer net: 13% → 11% test error; ImageNet −1.4 / −1.2 points",
    ),
    "overlapping_pool": Claim(
        "Overlapping pooling lowers the error (3.4)",
        "model.pool_kernel",
        [("3", "3/2 (overlapping)"), ("2", "2/2")],
        "test_error",
        "−0.4 / −0.3 points top-1 / top-5 (ImageNet)",
    ),
    "two_columns": Claim(
        "The two-column split beats half the kernels on one GPU (3.2, 3.5)",
        "arm",
        [  # the verdict: the split against half the kernels, the paper's comparison
            ("split", "groups=2, full width"),
            ("half", "groups=1, half width"),
            ("one", "groups=1, full width"),
        ],
        "test_error",
        "−1.7 / −1.2 points top-1 / top-5 against half the kernels (ImageNet)",
    ),
    "dropout": Claim(
        "Dropout reduces overfitting (4.2)",
        "model.dropout",
        [("0.5", "dropout 0.5"), ("0.0", "no dropout")],
        "train_test_gap",
        "without it, substantial overfitting; it roughly doubles the iterations to converge",
        also="epochs_to_val_accuracy",
    ),
    "bias_init": Claim(
        "Biases of 1 speed up early learning (5)",
        "model.init",
        [("paper", "biases 1"), ("paper_zero_bias", "biases 0")],
        "first_epoch_loss",
        "“accelerates the early stages of learning”",
        also="test_error",
    ),
    "augmentation": Claim(
        "Translations and reflections reduce overfitting (4.1)",
        "data.augment",
        [("true", "crops + flips"), ("false", "none")],
        "test_error",
        "without it, substantial overfitting (PCA colour noise: −1 point top-1 on ImageNet)",
        also="train_test_gap",
    ),
    "ten_crop": Claim(
        "Ten test patches beat the centre patch (4.1)",
        "tta",
        [("ten_crop", "ten patches"), ("center", "centre patch")],
        "ten_crop_error",
        "used for every test figure; no separate number in the paper",
        paired=True,
    ),
    "weight_decay": Claim(
        "Weight decay lowers the training error (5)",
        "optimizer.weight_decay",
        [("0.0005", "5e-4"), ("0.0", "0")],
        "final_train_error",
        "“not merely a regularizer: it reduces the model's training error”",
    ),
}


def per_epoch(run: Run, name: str) -> list[float]:
    return [v for _, v in sorted(run.curves.get(name, []))]


def value(run: Run, metric: str, threshold: float | None = None) -> float:
    """One run's number for ``metric``."""
    if metric == "test_error":
        return 1 - run.results["metrics"]["test/acc"]
    if metric == "final_train_error":
        return 1 - per_epoch(run, "train/acc")[-1]
    if metric == "train_test_gap":
        return per_epoch(run, "train/acc")[-1] - run.results["metrics"]["test/acc"]
    if metric == "first_epoch_loss":
        return per_epoch(run, "train/loss_epoch")[0]
    if metric == "epochs_to_train_error":
        return epochs_to(per_epoch(run, "train/acc"), 1 - threshold)
    if metric == "epochs_to_val_accuracy":
        return epochs_to(per_epoch(run, "val/acc"), threshold)
    if metric == "ten_crop_error":
        return 1 - run.results["metrics"]["test/acc"]
    raise ValueError(metric)


def epochs_to(accuracy: list[float], target: float) -> float:
    """Epochs (interpolated within the epoch) until ``accuracy`` first reaches ``target``."""
    previous = 0.0
    for epoch, acc in enumerate(accuracy, start=1):
        if acc >= target:
            return epoch - 1 + (target - previous) / max(acc - previous, 1e-9)
        previous = acc
    return math.inf


def arm_of(run: Run, claim: Claim) -> str:
    """The run's value of the claim's override (Hydra writes booleans as True/False)."""
    return str(run.overrides.get(claim.arm_key, run.results.get("arm", ""))).lower()


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def verdict(claim: Claim, groups: dict[str, list[float]]) -> str:
    """The paper's choice (first arm) against the second: reproduced when the difference
    goes the paper's way by more than twice its standard error (of the mean difference
    for paired arms), not reproduced when it goes the other way as clearly,
    inconclusive otherwise."""
    (a, _), (b, _) = claim.arms[:2]
    if not groups.get(a) or not groups.get(b):
        return "not run"
    if any(math.isinf(v) for v in groups[a] + groups[b]):
        return "inconclusive (an arm never reached the threshold)"
    (ma, sa), (mb, sb) = mean_std(groups[a]), mean_std(groups[b])
    gain = (mb - ma) if claim.better == "lower" else (ma - mb)
    error = math.sqrt(sa**2 / len(groups[a]) + sb**2 / len(groups[b]))
    if claim.paired:  # the same checkpoints measured twice: the differences' spread
        differences = [y - x for x, y in zip(groups[a], groups[b], strict=True)]
        error = mean_std(differences)[1] / math.sqrt(len(differences))
    if gain > 2 * error:
        return "reproduced"
    if gain < -2 * error:
        return "not reproduced (the other way)"
    return "inconclusive (within the seeds' spread)"


def threshold_for(runs: list[Run]) -> float:
    """The training error every run reaches: 25% if all do (the paper's), else the
    largest of the runs' lowest errors."""
    lowest = [1 - max(per_epoch(run, "train/acc")) for run in runs]
    return 0.25 if max(lowest) <= 0.25 else round(max(lowest) + 0.005, 3)


def val_threshold_for(runs: list[Run]) -> float:
    """The validation accuracy every run reaches, rounded down to half a point."""
    return math.floor(min(max(per_epoch(run, "val/acc")) for run in runs) * 200) / 200


def measure(claim: Claim, runs: list[Run], metric: str) -> tuple[dict, dict[str, list[float]]]:
    """``metric`` per arm (mean, std, seeds), its threshold if it has one, and the
    values grouped by arm."""
    threshold = {
        "epochs_to_train_error": threshold_for,
        "epochs_to_val_accuracy": val_threshold_for,
    }.get(metric, lambda _: None)(runs)
    groups: dict[str, list[float]] = {}
    for run in runs:
        groups.setdefault(arm_of(run, claim), []).append(value(run, metric, threshold))
    arms = {}
    for key, label in claim.arms:
        if key in groups:
            mean, std = mean_std(groups[key])
            arms[label] = {"mean": mean, "std": std, "seeds": len(groups[key])}
    return {"metric": metric, "threshold": threshold, "arms": arms}, groups


def aggregate(name: str, claim: Claim, sweep: Path, out: Path) -> dict:
    # The ten-patch claim compares eval.py's evaluations of the training runs' checkpoints.
    results = "metrics.json" if claim.metric == "ten_crop_error" else "results.json"
    runs = [read_run(p, results) for p in find_runs([sweep], results)]
    measured, groups = measure(claim, runs, claim.metric)
    result = {
        "claim": claim.title,
        **measured,
        "paper": claim.paper,
        "verdict": verdict(claim, groups),
    }
    means = [arm["mean"] for arm in measured["arms"].values()]
    if claim.metric == "epochs_to_train_error" and len(means) >= 2 and means[0] > 0:
        result["ratio"] = means[1] / means[0]
    if claim.also:
        result["also"] = measure(claim, runs, claim.also)[0]
    if claim.paired:
        plot_paired(claim, groups, out / f"{name}.png")
    else:
        plot(name, claim, runs, out / f"{name}.png", measured["threshold"])
    return result


def plot(name: str, claim: Claim, runs: list[Run], path: Path, threshold: float | None) -> None:
    """Per arm, the mean curve over seeds with a band of ± one std: training error
    (or loss) and validation error per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    train_metric = "train/loss_epoch" if claim.metric == "first_epoch_loss" else "train/acc"
    for key, label in claim.arms:
        members = [r for r in runs if arm_of(r, claim) == key]
        for ax, metric in zip(axes, (train_metric, "val/acc"), strict=True):
            curves = [per_epoch(r, metric) for r in members if per_epoch(r, metric)]
            if not curves:
                continue
            length = min(len(c) for c in curves)
            values = [
                [c[i] if "loss" in metric else 1 - c[i] for c in curves] for i in range(length)
            ]
            means = [statistics.fmean(v) for v in values]
            spreads = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in values]
            epochs = range(1, length + 1)
            ax.plot(epochs, means, marker="o", label=f"{label} ({len(curves)} seeds)")
            ax.fill_between(
                epochs,
                [m - s for m, s in zip(means, spreads, strict=True)],
                [m + s for m, s in zip(means, spreads, strict=True)],
                alpha=0.2,
            )
    if threshold is not None:
        axes[0].axhline(threshold, color="grey", linestyle="--", label=f"{threshold:.1%}")
    axes[0].set(title="training " + ("loss" if "loss" in train_metric else "error"), xlabel="epoch")
    axes[1].set(title="validation error", xlabel="epoch")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(claim.title)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def arm_rows(measured: dict) -> list[str]:
    lines = ["| arm | mean ± std | seeds |", "| --- | --- | --- |"]
    metric = measured["metric"]
    for label, a in measured["arms"].items():
        spread = f"{show(metric, a['mean'])} ± {show(metric, a['std'])}"
        lines.append(f"| {label} | {spread} | {a['seeds']} |")
    return lines


def plot_paired(claim: Claim, groups: dict[str, list[float]], path: Path) -> None:
    """Paired arms (no curves: evaluations of the same checkpoints): each checkpoint's
    error under each arm, a line joining its pair."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    labels = [label for key, label in claim.arms if key in groups]
    columns = [groups[key] for key, _ in claim.arms if key in groups]
    for run, errors in enumerate(zip(*columns, strict=True), start=1):
        ax.plot(range(len(errors)), errors, marker="o", label=f"checkpoint {run}")
    ax.set_xticks(range(len(labels)), labels)
    ax.set(title=claim.title, ylabel="test error")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def table(results: dict[str, dict]) -> str:
    lines = []
    for name, r in results.items():
        lines += [f"### {r['claim']}", "", f"Metric: {describe(r)}. Paper: {r['paper']}.", ""]
        lines += arm_rows(r)
        if "ratio" in r:
            lines.append(f"| ratio (second arm / first) | ×{r['ratio']:.2f} | |")
        if "also" in r:
            lines += ["", f"Also measured: {describe(r['also'])}.", "", *arm_rows(r["also"])]
        lines += ["", f"Verdict: **{r['verdict']}**.", "", f"![{name}]({name}.png)", ""]
    return "\n".join(lines)


def describe(result: dict) -> str:
    return {
        "epochs_to_val_accuracy": f"epochs to {result.get('threshold') or 0:.1%} validation "
        "accuracy (the highest every run reaches)",
        "test_error": "test error",
        "final_train_error": "training error of the last epoch",
        "train_test_gap": "last epoch's training accuracy minus test accuracy",
        "first_epoch_loss": "mean training loss of the first epoch",
        "epochs_to_train_error": f"epochs to {result.get('threshold') or 0:.1%} training error",
        "ten_crop_error": "test error of the same checkpoints",
    }[result["metric"]]


def show(metric: str, number: float) -> str:
    if metric.startswith("epochs_to") or metric == "first_epoch_loss":
        return f"{number:.2f}"
    return f"{number:.2%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or args.results
    out.mkdir(parents=True, exist_ok=True)
    results = {
        name: aggregate(name, claim, args.results / name, out)
        for name, claim in CLAIMS.items()
        if (args.results / name).is_dir()
    }
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    (out / "results.md").write_text(table(results))
    print(table(results))


if __name__ == "__main__":
    main()
