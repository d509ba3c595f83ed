"""The project's default command against a plain PyTorch script, on a user's folders.

For each tree that make_folders.py writes (Fashion-MNIST's training split as PNG class
folders, and the digits as folders), in one run on one machine:

- ours: ``python train.py data=image_folder data.root=<tree> model=alexnet_mini
  trainer.max_epochs=5`` — the defaults and nothing else (it tests its best checkpoint
  by validation accuracy on <tree>/test) — twice: first with an empty data directory,
  then again, with the files' headers and statistics cached there;
- plain: plain_pytorch.py (ImageFolder, resize 32, pad-4 crop + flip, AdamW one-cycle,
  the same network), 5 epochs, doing the same work: it validates every epoch, logs to
  a CSV file, saves the last and the best weights and tests the best on <tree>/test.

Wall time is measured around each command, start-up included; start-up is the time
from starting the command to its first training step (ours: a callback added through
the ``callbacks`` group, first_step.py; plain: ``--first-step``).

    python experiments/benchmarks/out_of_the_box/bench_out_of_the_box.py [--work DIR]
        [--epochs 5] [--only digits]
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
EPOCHS = 5


def timed(
    command: list[str], cwd: Path, first_step: Path | None = None, data_dir: Path | None = None
) -> dict:
    """Run ``command`` (with ``data_dir`` as ALEXNET_DATA_DIR): its wall time, its
    stdout and (with ``first_step``, the file the command writes the time of its first
    training step to) its start-up time."""
    environment = {**os.environ, "PYTHONPATH": str(HERE)}  # first_step.py
    if data_dir is not None:
        environment["ALEXNET_DATA_DIR"] = str(data_dir)
    started_at, started = time.time(), time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    timing = {"seconds": time.perf_counter() - started, "stdout": result.stdout}
    if first_step is not None:
        timing["startup_s"] = float(first_step.read_text()) - started_at
    return timing


def ours(tree: Path, work: Path, epochs: int, run: str) -> dict:
    """The default command on ``tree``; its data directory (the cache of the files'
    headers and statistics) is ``work/data_<tree>``, fresh for the first ``run``."""
    run_dir = work / f"ours_{tree.name}_{run}"
    first_step = work / f"ours_{tree.name}_{run}.first_step"
    first_step.unlink(missing_ok=True)
    shutil.rmtree(run_dir, ignore_errors=True)  # a finished run there would be continued
    command = [
        sys.executable,
        str(ROOT / "train.py"),
        "data=image_folder",
        f"data.root={tree}",
        "model=alexnet_mini",
        f"trainer.max_epochs={epochs}",
        f"hydra.run.dir={run_dir}",
        "+callbacks.first_step._target_=first_step.FirstStepTime",
        f"+callbacks.first_step.path={first_step}",
    ]
    data_dir = work / f"data_{tree.name}"
    if run == "first run":
        shutil.rmtree(data_dir, ignore_errors=True)
    timing = timed(command, work, first_step, data_dir)
    timing.pop("stdout")
    results = json.loads((run_dir / "results.json").read_text())
    return {"test_top1": results["metrics"]["test/acc"], **timing}


def plain(tree: Path, work: Path, epochs: int) -> dict:
    first_step = work / f"plain_{tree.name}.first_step"
    command = [
        sys.executable,
        str(HERE / "plain_pytorch.py"),
        str(tree),
        f"--epochs={epochs}",
        f"--out={work / f'plain_{tree.name}'}",
        f"--first-step={first_step}",
    ]
    timing = timed(command, work, first_step)
    printed = json.loads(timing.pop("stdout").strip().splitlines()[-1])
    return {"test_top1": printed["test_top1"], **timing}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=None, help="folder for the data and runs")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--only", choices=("fashion", "digits"), default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="out_of_the_box_"))
    work.mkdir(parents=True, exist_ok=True)
    trees = [args.only] if args.only else ["fashion", "digits"]
    for tree in trees:
        if not (work / tree).is_dir():
            timed([sys.executable, str(HERE / "make_folders.py"), str(work), "--only", tree], work)
    rows = {}
    for tree in trees:
        rows[tree] = {
            "ours, first run": ours(work / tree, work, args.epochs, "first run"),
            "ours, again": ours(work / tree, work, args.epochs, "again"),
            "plain": plain(work / tree, work, args.epochs),
        }
    print(f"{date.today()}, {platform.node()}, {platform.processor() or platform.machine()}")
    print("| data | command | test top-1 | start-up (to the first step) | wall time |")
    print("| --- | --- | --- | --- | --- |")
    for tree, pair in rows.items():
        for name, r in pair.items():
            print(
                f"| {tree} | {name} | {r['test_top1']:.2%} | {r['startup_s']:.1f} s "
                f"| {r['seconds']:.1f} s |"
            )
        plain_ = pair["plain"]
        for run in ("first run", "again"):
            ours_ = pair[f"ours, {run}"]
            gain = ours_["test_top1"] - plain_["test_top1"]
            print(
                f"| {tree} | ours ({run}) ÷ plain | {gain * 100:+.2f} points | "
                f"×{ours_['startup_s'] / plain_['startup_s']:.2f} | "
                f"×{ours_['seconds'] / plain_['seconds']:.2f} |"
            )
    (work / "results.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
