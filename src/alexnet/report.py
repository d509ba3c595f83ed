"""``python -m alexnet.report <runs or sweep folder> ...``: the runs compared (a markdown
table and a PNG of learning curves: alexnet.tasks.report) and, for a sweep's folder,
its Optuna study (alexnet.sweeps.report), found where the folder says it lives."""

import argparse
from pathlib import Path

from alexnet.console import inform
from alexnet.run.cli import user_errors_exit_2
from alexnet.sweeps.folder import recorded_study
from alexnet.tasks.report import find_runs, report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Compare runs, and a sweep's study.")
    parser.add_argument("runs", nargs="+", type=Path, help="run directories or folders of runs")
    parser.add_argument("--storage", help="an Optuna study's URL (default: the sweep folder's)")
    parser.add_argument("--study", help="the study's name (default: the sweep folder's)")
    args = parser.parse_args(argv)
    sweep = args.runs[0]
    with user_errors_exit_2():
        recorded = recorded_study(sweep)
        storage = args.storage or (recorded.storage if recorded else None)
        if storage is None and (sweep / "study.db").is_file():  # a folder from before 0.3
            storage = f"sqlite:///{(sweep / 'study.db').resolve()}"
        study = args.study or (recorded.name if recorded and storage == recorded.storage else None)
        if storage is None or find_runs(args.runs):
            report(args.runs)
        else:  # every trial pruned or failed so far: the study still has a story
            inform(f"no finished runs (results.json) in {sweep}: the study's report alone")
        if storage is not None:
            from alexnet.sweeps.report import study_report  # Optuna: only for a study

            study_report(storage, study, sweep)


if __name__ == "__main__":
    main()
