"""An Optuna study without a dashboard: its trials, the best trial's overrides, the
parameters' importances and the optimisation history (``study.md``, ``study.png``).
``python -m alexnet.report <sweep dir>`` writes them beside the runs' report."""

import warnings
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from alexnet.console import inform
from alexnet.errors import UserError
from alexnet.sweeps.database import database_errors
from alexnet.sweeps.storage import PRUNED, open_storage


def load_study(storage: str, study_name: str | None) -> optuna.Study:
    """The study ``study_name`` in ``storage``, or its only study when not named."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with database_errors(storage):
        opened = open_storage(storage)
        names = [s.study_name for s in optuna.get_all_study_summaries(opened)]
    if study_name is None and len(names) == 1:
        study_name = names[0]
    if study_name not in names:
        raise UserError(f"{storage} holds the studies {names}: choose one with --study NAME")
    return optuna.load_study(study_name=study_name, storage=opened)


def value_cell(trial: FrozenTrial) -> str:
    if trial.state == TrialState.COMPLETE:
        return f"{trial.value:.4f}"
    if trial.state == TrialState.PRUNED:
        stopped = trial.user_attrs.get(PRUNED)
        return f"pruned after epoch {stopped['epoch']}" if stopped else "diverged"
    return trial.state.name.lower()


def trials_table(study: optuna.Study) -> str:
    """One row per trial: number, state or value, parameters, duration, retry of."""
    trials = study.get_trials(deepcopy=False)
    names = sorted({name for t in trials for name in t.params})
    header = ["trial", "value", *names, "time", "retry of"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for t in trials:
        seconds = t.duration.total_seconds() if t.duration else None
        cells = [
            str(t.number),
            value_cell(t),
            *(f"{t.params[n]:.4g}" if n in t.params else "" for n in names),
            "-" if seconds is None else f"{seconds:.0f} s",
            str(t.system_attrs.get("failed_trial", "")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def importances(study: optuna.Study) -> dict[str, float]:
    """The parameters' importances by fANOVA (Optuna's default evaluator: the share of
    the objective's variance each parameter explains, in a random forest fitted to the
    trials); needs two complete trials or more whose values differ (none to explain
    otherwise: fANOVA stops with an error)."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len({trial.value for trial in complete}) < 2:
        return {}
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    return optuna.importance.get_param_importances(study, evaluator=evaluator)


def plot_history(study: optuna.Study, path: Path) -> Path:
    """Optuna's own optimisation-history plot (its matplotlib flavour)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "experimental" in Optuna 2.10
        ax = optuna.visualization.matplotlib.plot_optimization_history(study)
    ax.figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(ax.figure)
    return path


def study_report(storage: str, study_name: str | None, folder: Path) -> tuple[Path, Path]:
    """Write ``study.md`` and ``study.png`` for the study into ``folder``."""
    study = load_study(storage, study_name)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    lines = [f"# Study {study.study_name}", "", f"storage: `{storage}`  ", ""]
    lines += [f"W&B group: `{folder.name}` (the sweep folder's name)", ""]
    lines += ["## Trials", "", trials_table(study)]
    if complete:
        best = study.best_trial
        overrides = " ".join(f"{k}={v}" for k, v in sorted(best.params.items()))
        lines += ["## Best trial", "", f"trial {best.number}, value {best.value:.4f}:", ""]
        lines += [f"    python train.py {overrides}", ""]
    ranked = importances(study)
    if ranked:
        lines += [
            "## Parameter importances (fANOVA)",
            "",
            "| parameter | importance |",
        ]
        lines += ["| --- | --- |", *(f"| {k} | {v:.3f} |" for k, v in ranked.items()), ""]
    markdown, png = folder / "study.md", folder / "study.png"
    if complete:
        plot_history(study, png)
        lines += ["![optimisation history](study.png)", ""]
    markdown.write_text("\n".join(lines))
    inform("\n".join(lines))
    inform(f"wrote {markdown}" + (f" and {png}" if complete else ""))
    return markdown, png
