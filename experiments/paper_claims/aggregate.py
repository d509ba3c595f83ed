"""The paper's claims, aggregated: per claim a table (each arm's mean ± std over seeds),
the effect with its 95% interval and a t-test at the right degrees of freedom (Welch's
for independent arms, paired for the same checkpoints), the preconditions the verdict
needs, the verdict, and a plot.

    python experiments/paper_claims/aggregate.py RESULTS_DIR [--out experiments/paper_claims]
        [--readme experiments/paper_claims/README.md]

RESULTS_DIR holds ``<claim>/<arm>/`` run directories and ``<claim>/factor.json``, as
run_claims.py writes them. ``--readme`` puts the summary table into that file, between
its SUMMARY_START and SUMMARY_END lines, so that the README's rows are the report's.
"""

import argparse
import csv
import dataclasses
import datetime
import itertools
import json
import math
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from alexnet.tasks.report import Run, find_runs, read_run

sys.path.insert(0, str(Path(__file__).resolve().parent))
from claims import CLAIMS, ENDPOINT, SEEDS_NEEDED, Claim  # noqa: E402

WINDOW = 20  # steps in the trailing mean of the per-step training error
ALPHA = 0.05  # the test's level: 95% intervals
POWER = 0.80  # the detectable effect: found with this probability
LRN_ACTING_MIN = 0.10  # the LRN acts: its divisor is off k^β at ≥ 10% of positions
OVERFIT_MIN = 0.05  # the unregularised arm overfits: test − training error ≥ 5 points
SHRINK_MAX = 0.80  # decay shrinks the weights: norm ≤ 80% of the undecayed arm's
CHANCE_ERROR = 0.9  # every dataset of the study has ten classes
DROPS = 3  # the paper's endpoint: training stops the third time the rate is lowered
SUMMARY_START = "<!-- the summary table: aggregate.py --readme writes it -->"
SUMMARY_END = "<!-- end of the summary table -->"


# ---- one run's numbers ----------------------------------------------------------------


def test_error(run: Run) -> float:
    return 1 - run.results["metrics"]["test/acc"]


def train_error(run: Run) -> float:
    """Error on the fixed training subset, eval mode, from the tested checkpoint."""
    return 1 - run.results["metrics"]["train_eval/acc"]


def overfitting(run: Run) -> float:
    return test_error(run) - train_error(run)


def lrn_acting(run: Run) -> float:
    values = run.curves.get("lrn/acting")
    return values[-1][1] if values else 0.0


def weight_norm(run: Run) -> float:
    """L2 norm of the tested checkpoint's conv and linear weights (found in the run's own
    folder: results.json names it where the run was trained, maybe another machine)."""
    tested = run.path / "checkpoints" / Path(run.results["best_checkpoint"]).name
    checkpoint = torch.load(tested, map_location="cpu", weights_only=True)
    weights = [
        t for k, t in checkpoint["state_dict"].items() if k.endswith("weight") and t.ndim > 1
    ]
    return float(torch.sqrt(sum((w.double() ** 2).sum() for w in weights)))


def epochs(run: Run) -> float:
    """Epochs trained to the last validation: to the endpoint, or to the cap."""
    curve = run.curves.get("val/acc", [])
    return float(curve[-1][0] + 1) if curve else 0.0


def logged_rows(run: Run) -> list[dict[str, str]]:
    """The rows of the run's CSV log, in the order written."""
    path = run.path / "csv" / "metrics.csv"
    if not path.is_file():
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def rate_drops(run: Run) -> int:
    """How many times the run's learning rate was lowered (its ``lr-*`` column, read from
    the log: Lightning writes those rows without an epoch, which ``Run.curves`` skips)."""
    rates = [
        float(value)
        for row in logged_rows(run)
        for name, value in row.items()
        if name.startswith("lr-") and value
    ]
    return sum(later < earlier for earlier, later in itertools.pairwise(rates))


def step_accuracies(run: Run) -> list[tuple[int, float]]:
    """(step, the batch's training accuracy) of every logged training step."""
    return [
        (int(row["step"]), float(row["train/acc_step"]))
        for row in logged_rows(run)
        if row.get("train/acc_step")
    ]


def step_errors(run: Run) -> list[tuple[int, float]]:
    """(step, training error of the trailing ``WINDOW`` batches) per training step."""
    accuracy = step_accuracies(run)
    return [
        (step, 1 - statistics.fmean(a for _, a in accuracy[max(0, i - WINDOW + 1) : i + 1]))
        for i, (step, _) in enumerate(accuracy)
    ]


def early_train_error(run: Run) -> float:
    """The training error (train mode, per batch) averaged over every step of the run."""
    errors = [1 - a for _, a in step_accuracies(run)]
    return statistics.fmean(errors) if errors else math.nan


def steps_to(run: Run, threshold: float) -> float:
    """The first step (counted from 1) whose trailing training error is ≤ threshold."""
    return next((step + 1 for step, e in step_errors(run) if e <= threshold), math.inf)


METRICS: dict[str, tuple[str, Callable]] = {
    "test_error": ("test error", test_error),
    "train_error": ("training error (eval mode, fixed subset, same checkpoint)", train_error),
    "overfitting": ("overfitting: test error − training error (eval mode)", overfitting),
    "lrn_acting": ("LRN acting (share of positions, last epoch)", lrn_acting),
    "epochs": ("epochs to the endpoint", epochs),
    "weight_norm": ("L2 norm of the weights", weight_norm),
    "steps_to_train_error": ("steps to the training error", steps_to),
    "early_train_error": (
        "training error over the first steps (mean per batch)",
        early_train_error,
    ),
}


def value(claim: Claim, metric: str, run: Run) -> float:
    function = METRICS[metric][1]
    return function(run, claim.threshold) if metric == "steps_to_train_error" else function(run)


def show(metric: str, number: float) -> str:
    if not math.isfinite(number):
        return "never"
    if metric in ("steps_to_train_error", "epochs"):
        return f"{number:.0f}"
    if metric == "weight_norm":
        return f"{number:.2f}"
    return f"{number:.2%}"


# ---- preconditions ------------------------------------------------------------------


def seeds(claim: Claim, runs: dict[str, list[Run]]) -> tuple[bool, str]:
    counts = {arm.label: len(runs.get(arm.name, [])) for arm in claim.arms[:2]}
    enough = min(counts.values()) >= SEEDS_NEEDED
    return enough, f"seeds per arm: {min(counts.values())} (a verdict needs {SEEDS_NEEDED})"


def left_chance(claim: Claim, runs: dict[str, list[Run]]) -> tuple[bool, str]:
    pair = [run for arm in claim.arms[:2] for run in runs.get(arm.name, [])]
    worst = min(1 - test_error(run) for run in pair)
    needed = 2 * (1 - CHANCE_ERROR)
    return worst >= needed, (
        f"both arms leave chance: lowest test top-1 {worst:.1%} (needs ≥ {needed:.0%}, "
        "twice chance)"
    )


def reaches_threshold(claim: Claim, runs: dict[str, list[Run]]) -> tuple[bool, str]:
    pair = {arm.label: runs.get(arm.name, []) for arm in claim.arms[:2]}
    missing = [
        label
        for label, group in pair.items()
        if any(math.isinf(steps_to(run, claim.threshold)) for run in group)
    ]
    return not missing, (
        f"every run reaches {claim.threshold:.0%} training error"
        + (f": not every {' and '.join(missing)} run did" if missing else "")
    )


def some_arm_learns(claim: Claim, runs: dict[str, list[Run]]) -> tuple[bool, str]:
    """At least one arm leaves chance: its last trailing training error is 10 points
    or more below chance's 90% (ten classes). (Both at chance compare nothing.)"""
    final = {
        arm.label: statistics.fmean(step_errors(r)[-1][1] for r in runs[arm.name])
        for arm in claim.arms[:2]
        if runs.get(arm.name) and all(step_errors(r) for r in runs[arm.name])
    }
    best = min(final.values(), default=1.0)
    shown = ", ".join(f"{label} {error:.0%}" for label, error in final.items())
    return best <= CHANCE_ERROR - 0.10, (
        f"some arm learns: last training error (trailing 20 steps) {shown} (one needs ≤ "
        f"{CHANCE_ERROR - 0.10:.0%})"
    )


def lrn_acts(claim: Claim, runs: dict[str, list[Run]]) -> tuple[bool, str]:
    acting = [lrn_acting(run) for run in runs.get(claim.arms[0].name, [])]
    low = min(acting, default=0.0)
    return low >= LRN_ACTING_MIN, (
        f"the LRN acts: its divisor is off k^β at {low:.1%} of positions in the least "
        f"(needs ≥ {LRN_ACTING_MIN:.0%})"
    )


def overfits(claim: Claim, runs: dict[str, list[Run]]) -> tuple[bool, str]:
    gaps = [overfitting(run) for run in runs.get(claim.arms[1].name, [])]
    mean = statistics.fmean(gaps) if gaps else 0.0
    return mean >= OVERFIT_MIN, (
        f"the {claim.arms[1].label} arm overfits: test − training error {mean:.1%} "
        f"(needs ≥ {OVERFIT_MIN:.0%})"
    )


def decay_shrinks(claim: Claim, runs: dict[str, list[Run]]) -> tuple[bool, str]:
    decayed, plain = (
        statistics.fmean(weight_norm(r) for r in runs.get(arm.name, [])) for arm in claim.arms[:2]
    )
    ratio = decayed / plain
    return ratio <= SHRINK_MAX, (
        f"decay shrinks the weights: their norm is {ratio:.0%} of the undecayed arm's "
        f"(needs ≤ {SHRINK_MAX:.0%})"
    )


def converged(claim: Claim, runs: dict[str, list[Run]]) -> tuple[bool, str]:
    """Every run of the pair reached the paper's endpoint: its learning rate lowered
    DROPS times (else it stopped at the epoch cap: the claim needs a longer budget)."""
    pair = [run for arm in claim.arms[:2] for run in runs.get(arm.name, [])]
    short = [run for run in pair if rate_drops(run) < DROPS]
    cap = max((epochs(run) for run in short), default=0)
    return not short, (
        f"every run reached the endpoint (its learning rate lowered {DROPS} times)"
        + (f": {len(short)} stopped at the cap of {cap:.0f} epochs first" if short else "")
    )


PRECONDITIONS = {
    "left_chance": left_chance,
    "reaches_threshold": reaches_threshold,
    "some_arm_learns": some_arm_learns,
    "lrn_acts": lrn_acts,
    "overfits": overfits,
    "decay_shrinks": decay_shrinks,
    "converged": converged,
}


# ---- the comparison -----------------------------------------------------------------


def compare(claim: Claim, a: list[float], b: list[float]) -> dict:
    """The paper's arm against the alternative: the effect (a − b, or a / b on a log
    scale) with its 95% interval and the t-test behind it."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if claim.log_scale:
        x, y = np.log(x), np.log(y)
    if claim.paired:
        test = stats.ttest_rel(x, y)
        name, effect = "paired t-test", float(np.mean(x - y))
    else:
        test = stats.ttest_ind(x, y, equal_var=False)
        name, effect = "Welch's t-test", float(np.mean(x) - np.mean(y))
    low, high = test.confidence_interval(1 - ALPHA)
    result = {"test": name, "t": float(test.statistic), "df": float(test.df)}
    result["p"] = float(test.pvalue)
    if claim.log_scale:
        effect, low, high = math.exp(effect), math.exp(low), math.exp(high)
    result.update(effect=effect, low=float(low), high=float(high))
    return result


def detectable_effect(claim: Claim, a: list[float], b: list[float]) -> float:
    """The smallest true effect the comparison detects with probability POWER (a
    two-sided test at ALPHA, given the arms' seed counts and spreads); a ratio on a log
    scale."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if claim.log_scale:
        x, y = np.log(x), np.log(y)
    if claim.paired:
        spread, df = float(np.std(x - y, ddof=1)) / math.sqrt(len(x)), len(x) - 1
    else:
        va, vb = np.var(x, ddof=1) / len(x), np.var(y, ddof=1) / len(y)
        spread = math.sqrt(va + vb)
        df = (va + vb) ** 2 / (va**2 / (len(x) - 1) + vb**2 / (len(y) - 1))
    # (t quantiles at the test's level and at the power: the usual approximation of the
    # noncentral t, whose distribution functions SciPy evaluates as NaN at few seeds)
    effect = (stats.t.ppf(1 - ALPHA / 2, df) + stats.t.ppf(POWER, df)) * spread
    return math.exp(effect) if claim.log_scale else effect


def holm(pvalues: dict[str, float]) -> dict[str, float]:
    """Holm's step-down adjusted p-values (SciPy has only Benjamini–Hochberg's
    correction, statsmodels is not a dependency: the few lines are written here)."""
    adjusted, running = {}, 0.0
    ordered = sorted(pvalues.items(), key=lambda item: item[1])
    for rank, (name, p) in enumerate(ordered):
        running = max(running, min(1.0, (len(ordered) - rank) * p))
        adjusted[name] = running
    return adjusted


def verdict(claim: Claim, checks: list[tuple[bool, str]], comparison: dict | None) -> str:
    """From the preconditions and the comparison (its p corrected for the study's many
    tests, ``p_holm``, where the study set one); "underpowered" where the paper's own
    effect is below the smallest effect the comparison could detect."""
    failed = [text for ok, text in checks if not ok]
    if failed:
        return "not tested: " + "; ".join(failed)
    p = comparison.get("p_holm", comparison["p"]) if comparison else math.nan
    if not math.isfinite(p) or p >= ALPHA:
        return "no difference detected" + underpowered(claim, comparison)
    neutral = 1.0 if claim.log_scale else 0.0
    paper_way = (
        comparison["effect"] < neutral
        if claim.better == "lower"
        else (comparison["effect"] > neutral)
    )
    return "reproduced" if paper_way else "opposite"


def underpowered(claim: Claim, comparison: dict | None) -> str:
    """``"; underpowered: ..."`` where the paper's effect is below the detectable one."""
    if claim.paper_effect is None or not comparison or "detectable" not in comparison:
        return ""
    size = (lambda e: abs(math.log(e))) if claim.log_scale else abs
    if size(claim.paper_effect) >= size(comparison["detectable"]):
        return ""
    return (
        f" (underpowered: the paper's effect, {show_effect(claim, claim.paper_effect)}, is "
        f"below the smallest this study detects at {POWER:.0%} power, "
        f"{show_effect(claim, comparison['detectable'])})"
    )


def show_effect(claim: Claim, effect: float) -> str:
    return f"×{effect:.2f}" if claim.log_scale else f"{effect * 100:.1f} points"


def correct_for_many_tests(results: dict[str, dict], claims: dict[str, Claim] = CLAIMS) -> None:
    """Holm's correction across the claims compared (preconditions met): each one's
    ``p_holm``, and its verdict again."""
    tested = {
        name: result["comparison"]["p"]
        for name, result in results.items()
        if result["comparison"] and all(check["ok"] for check in result["preconditions"])
    }
    for name, p_holm in holm(tested).items():
        result = results[name]
        result["comparison"]["p_holm"] = p_holm
        checks = [(check["ok"], check["text"]) for check in result["preconditions"]]
        result["verdict"] = verdict(claims[name], checks, result["comparison"])


def seed_of(run: Run) -> str:
    return str(run.overrides.get("seed", run.path.name))


def read_arms(claim: Claim, sweep: Path) -> dict[str, list[Run]]:
    """The runs of each arm, in seed order (evaluations: eval.py's metrics.json)."""
    results = "metrics.json" if claim.paired else "results.json"
    return {
        arm.name: sorted(
            (read_run(p, results) for p in find_runs([sweep / arm.name], results)), key=seed_of
        )
        for arm in claim.arms
        if (sweep / arm.name).is_dir()
    }


def thresholds(claim: Claim, runs: dict[str, list[Run]]) -> list[float]:
    """A speed claim's training errors to reach: ``claim.fractions`` of the way from
    chance to the worse arm's converged training error (its runs' mean last trailing
    error)."""
    finals = [
        statistics.fmean(step_errors(run)[-1][1] for run in runs[arm.name])
        for arm in claim.arms[:2]
        if runs.get(arm.name) and all(step_errors(run) for run in runs[arm.name])
    ]
    worse = max(finals, default=CHANCE_ERROR)
    return [CHANCE_ERROR - f * (CHANCE_ERROR - worse) for f in claim.fractions]


def steps_at_thresholds(claim: Claim, runs: dict[str, list[Run]], errors: list[float]) -> dict:
    """Each arm's mean steps (over seeds that reach it) to each error of ``errors``."""
    table = {}
    for arm in claim.arms:
        group = runs.get(arm.name, [])
        reached = [[steps_to(run, e) for run in group] for e in errors]
        table[arm.label] = [
            statistics.fmean(s) if all(map(math.isfinite, s)) and s else math.inf for s in reached
        ]
    return table


def aggregate(name: str, claim: Claim, sweep: Path, out: Path) -> dict:
    runs = read_arms(claim, sweep)
    errors = thresholds(claim, runs) if claim.fractions else []
    if errors:  # the verdict at the middle threshold
        claim = dataclasses.replace(claim, threshold=errors[len(errors) // 2])
    metrics = (claim.metric, *claim.also)
    arms = {
        arm.label: {
            metric: [value(claim, metric, run) for run in runs.get(arm.name, [])]
            for metric in metrics
        }
        for arm in claim.arms
        if runs.get(arm.name)
    }
    checks = [seeds(claim, runs)]
    if all(runs.get(arm.name) for arm in claim.arms[:2]):  # a partial study: none to check
        checks += [PRECONDITIONS[p](claim, runs) for p in claim.preconditions]
    pair = [arms.get(arm.label, {}).get(claim.metric, []) for arm in claim.arms[:2]]
    comparable = all(len(v) >= 2 and all(math.isfinite(x) for x in v) for v in pair)
    comparison = compare(claim, *pair) if comparable else None
    if comparison:
        comparison["detectable"] = detectable_effect(claim, *pair)
    factor_file, rates_file = sweep / "factor.json", sweep / "learning_rates.json"
    result = {
        "claim": claim.title,
        "metric": claim.metric,
        "threshold": claim.threshold,
        "paper": claim.paper,
        "differs": claim.differs,
        "factor": json.loads(factor_file.read_text()) if factor_file.is_file() else None,
        "learning_rates": json.loads(rates_file.read_text()) if rates_file.is_file() else None,
        "thresholds": {"errors": errors, "steps": steps_at_thresholds(claim, runs, errors)},
        "arms": arms,
        "comparison": comparison,
        "preconditions": [{"ok": ok, "text": text} for ok, text in checks],
        "verdict": verdict(claim, checks, comparison),
    }
    if claim.paired:
        plot_paired(claim, arms, out / f"{name}.png")
    else:
        plot(claim, runs, out / f"{name}.png")
    return result


# ---- plots --------------------------------------------------------------------------


def _band(ax, xs: list, curves: list[list[float]], label: str) -> None:
    """The mean of ``curves`` and a band of ± one std around it."""
    values = np.asarray(curves)
    means = values.mean(axis=0)
    spread = values.std(axis=0, ddof=1) if len(curves) > 1 else np.zeros_like(means)
    ax.plot(xs, means, marker="o" if len(xs) < 30 else None, label=f"{label} ({len(curves)} seeds)")
    ax.fill_between(xs, means - spread, means + spread, alpha=0.2)


def plot(claim: Claim, runs: dict[str, list[Run]], path: Path) -> None:
    """Per arm, mean ± std over seeds: training error per step (a trailing mean over
    20 steps, train mode) and validation error per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (steps_ax, epochs_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for arm in claim.arms:
        group = runs.get(arm.name, [])
        per_step = [step_errors(run) for run in group]
        if per_step and all(per_step):
            length = min(len(c) for c in per_step)
            xs = [s for s, _ in per_step[0][:length]]
            _band(steps_ax, xs, [[e for _, e in c[:length]] for c in per_step], arm.label)
        per_epoch = [run.curves.get("val/acc", []) for run in group]
        if per_epoch and all(per_epoch):
            length = min(len(c) for c in per_epoch)
            xs = [epoch + 1 for epoch, _ in per_epoch[0][:length]]  # validated epochs
            _band(epochs_ax, xs, [[1 - v for _, v in c[:length]] for c in per_epoch], arm.label)
    if claim.threshold is not None:
        steps_ax.axhline(claim.threshold, color="grey", linestyle="--")
    steps_ax.set(title="training error (trailing 20 steps)", xlabel="step")
    epochs_ax.set(title="validation error", xlabel="epoch")
    for ax in (steps_ax, epochs_ax):
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # a claim without per-step data has none
            ax.legend(fontsize=8)
    fig.suptitle(claim.title)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def plot_paired(claim: Claim, arms: dict[str, dict], path: Path) -> None:
    """Each checkpoint's error under each arm, a line joining its pair."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    labels = list(arms)
    columns = [arms[label][claim.metric] for label in labels]
    for number, errors in enumerate(zip(*columns, strict=True), start=1):
        ax.plot(range(len(errors)), errors, marker="o", label=f"checkpoint {number}")
    ax.set_xticks(range(len(labels)), labels)
    ax.set(title=claim.title, ylabel=METRICS[claim.metric][0])
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.grid(alpha=0.3)
    if columns and columns[0]:  # a partial study may have no checkpoint yet
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


# ---- tables -------------------------------------------------------------------------


def effect_text(claim: Claim, result: dict) -> str:
    c = result["comparison"]
    if c is None:
        return "no comparison (fewer than 2 finite values per arm)"
    first, second = (arm.label for arm in claim.arms[:2])
    metric = claim.metric
    if claim.log_scale:
        size = f"{first} / {second}: ×{c['effect']:.2f}, 95% CI [×{c['low']:.2f}, ×{c['high']:.2f}]"
    else:
        scale = "points" if metric != "weight_norm" else ""
        size = (
            f"{first} − {second}: {c['effect'] * 100:+.2f} {scale}, 95% CI "
            f"[{c['low'] * 100:+.2f}, {c['high'] * 100:+.2f}]"
        )
    corrected = f", Holm-corrected p = {c['p_holm']:.3g}" if "p_holm" in c else ""
    detectable = ""
    if "detectable" in c:
        detectable = (
            f"; the smallest effect it detects at {POWER:.0%} power: "
            f"{show_effect(claim, c['detectable'])}"
        )
    return (
        f"{size}; {c['test']}, t = {c['t']:.2f}, df = {c['df']:.1f}, p = {c['p']:.3g}"
        f"{corrected}{detectable}"
    )


def describe(claim: Claim) -> str:
    """The claim's metric in words (with its threshold, if it has one)."""
    description = METRICS[claim.metric][0]
    return f"{description} {claim.threshold:.0%}" if claim.threshold is not None else description


def endpoint_text(claim: Claim) -> str:
    if claim.converges:
        return f"the paper's schedule: {ENDPOINT}"
    return "a fixed number of epochs (the claim's config)"


def chosen_rates(result: dict) -> str:
    """The rate each arm's grid chose ("" before the grids have run)."""
    chosen = (result.get("learning_rates") or {}).get("chosen", {})
    return ", ".join(f"{arm} {rate:g}" for arm, rate in chosen.items())


def rates_text(result: dict) -> str:
    """The learning-rate rule and what it chose."""
    rates = result.get("learning_rates")
    if not rates:
        return "one for all arms (the claim's config)"
    chosen = chosen_rates(result)
    grid = sorted({lr for grid in rates["grid"].values() for lr in grid})
    edge = f"; at the grid's edge: {', '.join(rates['at_edge'])}" if rates["at_edge"] else ""
    return f"each arm's own, of {{{', '.join(f'{lr:g}' for lr in grid)}}} on seed 0: {chosen}{edge}"


def thresholds_lines(claim: Claim, result: dict) -> list[str]:
    """A speed claim's table of steps to each threshold set from the data."""
    errors, steps = result["thresholds"]["errors"], result["thresholds"]["steps"]
    if not errors:
        return []
    header = [f"{f:.0%} of the way: {e:.1%}" for f, e in zip(claim.fractions, errors, strict=True)]
    lines = ["", "Steps to the training errors set from the data (mean over seeds):", ""]
    lines += ["| arm | " + " | ".join(header) + " |", "|" + " --- |" * (len(header) + 1)]
    for label, counts in steps.items():
        shown = (show("steps_to_train_error", count) for count in counts)
        lines.append(f"| {label} | " + " | ".join(shown) + " |")
    return lines


def faithfulness_lines(claim: Claim) -> list[str]:
    if not claim.setting:
        return []
    lines = ["", "| | the paper | here |", "| --- | --- | --- |"]
    return lines + [f"| {aspect} | {paper} | {ours} |" for aspect, paper, ours in claim.setting]


def claim_section(name: str, claim: Claim, result: dict) -> list[str]:
    metrics = [claim.metric, *claim.also]
    lines = [f"### {claim.title}", "", f"Paper: {claim.paper}.", ""]
    if result.get("not_run"):
        return [*lines, f"**Not tested**: {claim.not_tested}.", ""]
    lines += [f"Here: {claim.differs}.", *faithfulness_lines(claim), ""]
    lines += [f"Endpoint: {endpoint_text(claim)}. Learning rates: {rates_text(result)}."]
    if claim.control:
        lines += ["", f"Control: {claim.control}."]
    lines += ["", f"Metric: {describe(claim)}."]
    factor = result["factor"]
    if factor:
        pair, every = (
            "; ".join(f"`{k}`: {' | '.join(map(str, v))}" for k, v in factor[part].items())
            for part in ("pair", "all")
        )
        lines += ["", f"The verdict's arms differ in (checked on the composed configs): {pair}."]
        if len(claim.arms) > 2:
            lines += [f"All arms: {every}."]
    header = ["arm", *(METRICS[m][0] for m in metrics), "seeds"]
    lines += ["", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for label, values in result["arms"].items():
        cells = []
        for m in metrics:
            v = [x for x in values[m] if math.isfinite(x)]
            missing = len(values[m]) - len(v)
            spread = statistics.stdev(v) if len(v) > 1 else 0.0
            cell = f"{show(m, statistics.fmean(v))} ± {show(m, spread)}" if v else "never"
            cells.append(cell + (f" ({missing} never)" if missing and v else ""))
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {len(values[claim.metric])} |")
    lines += thresholds_lines(claim, result)
    lines += ["", f"Effect: {effect_text(claim, result)}.", "", "Preconditions:", ""]
    lines += [f"- {'yes' if p['ok'] else '**no**'}: {p['text']}" for p in result["preconditions"]]
    lines += ["", f"Verdict: **{result['verdict']}**.", "", f"![{name}]({name}.png)", ""]
    return lines


def summary_row(claim: Claim, result: dict) -> str:
    if result.get("not_run"):
        return f"| {claim.title} | {claim.paper} | – | – | – | – | – | – | {result['verdict']} |"
    c = result["comparison"]
    effect = "–"
    if c is not None:
        effect = (
            f"×{c['effect']:.2f} [{c['low']:.2f}, {c['high']:.2f}]"
            if claim.log_scale
            else f"{c['effect'] * 100:+.1f} [{c['low'] * 100:+.1f}, {c['high'] * 100:+.1f}] pts"
        )
    measured = f"{describe(claim)}: {effect}"
    power = show_effect(claim, c["detectable"]) if c and "detectable" in c else "–"
    p_holm = f"{c['p_holm']:.3g}" if c and "p_holm" in c else "–"
    endpoint = "third rate drop" if claim.converges else "fixed epochs"
    rates, chosen = "shared", chosen_rates(result)
    if claim.tune_lr:
        rates = f"each arm's own: {chosen}" if chosen else "each arm's own"
    return (
        f"| {claim.title} | {claim.paper} | {endpoint} | {rates} | {claim.control or '–'} "
        f"| {measured} | {power} | {p_holm} | {result['verdict']} |"
    )


def tables(results: dict[str, dict]) -> tuple[str, str]:
    """(the per-claim sections, the one-line-per-claim summary)."""
    sections: list[str] = []
    rows = [
        "| claim (section) | paper | endpoint | learning rate | control "
        "| here: effect, 95% CI (paper's arm vs the other) "
        f"| detectable at {POWER:.0%} power | p (Holm) | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, result in results.items():
        claim = dataclasses.replace(CLAIMS[name], threshold=result.get("threshold"))
        sections += claim_section(name, claim, result)
        rows.append(summary_row(claim, result))
    return "\n".join(sections), "\n".join(rows) + "\n"


def sittings_lines(study: Path) -> list[str]:
    """The study's sittings (run_claims.py's sittings.json): each one's start, last
    finished run, machine, versions and runs; and their wall time in all. An entry
    written by hand says how in ``by_hand``."""
    path = study / "sittings.json"
    if not path.is_file():
        return []
    lines = [
        "## Sittings",
        "",
        "| started (UTC) | last run finished | machine | cores | Python, torch, Lightning "
        "| runs finished |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    wall, when = datetime.timedelta(), datetime.datetime.fromisoformat
    for s in json.loads(path.read_text()):
        if s["last_run"]:
            wall += when(s["last_run"]) - when(s["started"])
        versions = f"{s['python']}, {s['torch']}, {s['lightning']}"
        last = (s["last_run"] or "–") + (f" ({s['by_hand']})" if "by_hand" in s else "")
        lines.append(
            f"| {s['started']} | {last} | {s['machine']} | {s['cores']} "
            f"| {versions} | {s['runs']} |"
        )
    minutes = round(wall.total_seconds() / 60)
    return [
        *lines,
        "",
        f"Wall time, each sitting's start to its last finished run: "
        f"{minutes // 60} h {minutes % 60:02d} min.",
        "",
    ]


def around_summary(readme: Path) -> tuple[str, str]:
    """``readme``'s text up to its summary's start marker and from its end marker; a
    file without one of each is refused (before the report writes anything)."""
    text = readme.read_text() if readme.is_file() else ""
    if text.count(SUMMARY_START) != 1 or text.count(SUMMARY_END) != 1:
        raise SystemExit(f"{readme} needs one line {SUMMARY_START} and one {SUMMARY_END}")
    before, rest = text.split(SUMMARY_START)
    return before + SUMMARY_START + "\n", SUMMARY_END + rest.split(SUMMARY_END)[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--readme", type=Path, default=None, help="a file to put the table in")
    args = parser.parse_args(argv)
    readme = around_summary(args.readme) if args.readme else None
    out = args.out or args.results
    out.mkdir(parents=True, exist_ok=True)
    results = {
        name: aggregate(name, claim, args.results / name, out)
        if (args.results / name).is_dir()
        else {"not_run": True, "comparison": None, "verdict": f"not tested: {claim.not_tested}"}
        for name, claim in CLAIMS.items()
        if (args.results / name).is_dir() or claim.not_tested
    }
    correct_for_many_tests(results)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    sections, summary = tables(results)
    (out / "results.md").write_text("\n".join([sections, *sittings_lines(args.results)]))
    (out / "summary.md").write_text(summary)
    if readme:
        args.readme.write_text(readme[0] + summary + readme[1])
    print(summary)


if __name__ == "__main__":
    main()
