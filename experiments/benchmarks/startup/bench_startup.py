"""Start-up and whole runs: the default command against a plain script doing the same
work (plain_digits.py), run alternately as separate processes, medians of several runs.

- **Start-up**: a one-step default run, ``python train.py trainer.max_epochs=1
  ++trainer.limit_train_batches=1 ++trainer.limit_val_batches=0 test=false`` (W&B
  offline, as for a user without an account), against ``plain_digits.py --steps 1``:
  the time since the process started at the end of each phase (ours from the
  ``start-up:`` lines of its train.log, plain's from its last line), to the first step,
  and the whole command.
- **Whole run**: ``python train.py`` (8 epochs, validated, tested, figures, W&B
  offline) against ``plain_digits.py --wandb`` (8 epochs, validated, tested, CSV log,
  last and best weights, the same figures logged to an offline W&B run) and against
  ``plain_digits.py`` (the same without W&B): wall time of each command, process
  start-up and exit included.

    python experiments/benchmarks/startup/bench_startup.py [--repeats 5] [--work DIR]
        [--only startup|whole] [--epochs 8]
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from alexnet.startup import TRAINING_PHASES

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
ONE_STEP = [
    "trainer.max_epochs=1",
    "++trainer.limit_train_batches=1",
    "++trainer.limit_val_batches=0",
    "test=false",
]
PHASE_LINE = re.compile(r"start-up: (.+) [\d.]+ s \(([\d.]+) s\)")


def timed(command: list[str], cwd: Path) -> float:
    """Seconds ``command`` took, start-up and exit included."""
    environment = {**os.environ, "WANDB_MODE": "offline"}
    environment.pop("WANDB_API_KEY", None)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    seconds = time.perf_counter() - started
    (cwd / "stdout.txt").write_text(result.stdout)
    return seconds


def ours(work: Path, name: str, *overrides: str) -> tuple[float, dict[str, float]]:
    """(wall seconds, {phase: seconds since the process started at its end})."""
    run_dir = work / name
    seconds = timed(
        [sys.executable, str(ROOT / "train.py"), *overrides, f"hydra.run.dir={run_dir}"], work
    )
    log = (run_dir / "train.log").read_text()
    return seconds, {m.group(1): float(m.group(2)) for m in PHASE_LINE.finditer(log)}


def plain(work: Path, name: str, *args: str) -> tuple[float, dict[str, float]]:
    seconds = timed(
        [sys.executable, str(HERE / "plain_digits.py"), f"--out={work / name}", *args], work
    )
    printed = json.loads((work / "stdout.txt").read_text().strip().splitlines()[-1])
    return seconds, printed["phases"]


def alternately(repeats: int, first, second) -> tuple[list, list]:
    """``repeats`` results of each, run in turn, each going first every other time."""
    a, b = [], []
    for repeat in range(repeats):
        if repeat % 2:
            b.append(second(repeat))
            a.append(first(repeat))
        else:
            a.append(first(repeat))
            b.append(second(repeat))
    return a, b


def median_phases(runs: list[tuple[float, dict[str, float]]]) -> dict[str, float]:
    return {
        phase: statistics.median(r[1][phase] for r in runs)
        for phase in TRAINING_PHASES
        if all(phase in r[1] for r in runs)
    }


def startup_table(work: Path, repeats: int) -> None:
    ours_runs, plain_runs = alternately(
        repeats,
        lambda n: ours(work, f"ours_step_{n}", *ONE_STEP),
        lambda n: plain(work, f"plain_step_{n}", "--steps=1"),
    )
    mine, theirs = median_phases(ours_runs), median_phases(plain_runs)
    print(f"One-step default run, medians of {repeats} alternating runs (seconds)\n")
    print("| phase | ours: phase | ours: since start | plain: phase | plain: since start |")
    print("| --- | --- | --- | --- | --- |")
    before = {"ours": 0.0, "plain": 0.0}
    for phase in TRAINING_PHASES:  # "—" where a side has no such phase
        cells = []
        for side, phases in (("ours", mine), ("plain", theirs)):
            if phase in phases:
                cells += [f"{phases[phase] - before[side]:.2f}", f"{phases[phase]:.2f}"]
                before[side] = phases[phase]
            else:
                cells += ["—", "—"]
        print(f"| {phase} | {' | '.join(cells)} |")
    walls = [statistics.median(r[0] for r in runs) for runs in (ours_runs, plain_runs)]
    print(f"| whole command (exit included) | | {walls[0]:.2f} | | {walls[1]:.2f} |")
    ratios = [
        o[1]["first step"] / p[1]["first step"] for o, p in zip(ours_runs, plain_runs, strict=True)
    ]
    print(
        f"\nstart-up ratio (to the end of the first step) ours / plain: "
        f"{statistics.median(ratios):.2f} (median; the runs': "
        f"{', '.join(f'{r:.2f}' for r in ratios)})\n"
    )


def whole_table(work: Path, repeats: int, epochs: int) -> None:
    """Ours, plain with W&B (the same work) and plain without, in turn."""
    runs: dict[str, list] = {"ours": [], "plain, W&B offline": [], "plain": []}
    commands = {
        "ours": lambda n: ours(work, f"ours_run_{n}", f"trainer.max_epochs={epochs}"),
        "plain, W&B offline": lambda n: plain(work, f"plainw_{n}", f"--epochs={epochs}", "--wandb"),
        "plain": lambda n: plain(work, f"plain_run_{n}", f"--epochs={epochs}"),
    }
    for repeat in range(repeats):
        order = list(commands)[repeat % 3 :] + list(commands)[: repeat % 3]  # each first in turn
        for name in order:
            runs[name].append(commands[name](repeat)[0])
    print(f"Whole default run ({epochs} epochs), {repeats} runs of each in turn (seconds)\n")
    print("| command | median | runs |")
    print("| --- | --- | --- |")
    names = {
        "ours": "ours: python train.py",
        "plain, W&B offline": "plain_digits.py --wandb",
        "plain": "plain_digits.py",
    }
    for name, walls in runs.items():
        listed = ", ".join(f"{w:.1f}" for w in walls)
        print(f"| {names[name]} | {statistics.median(walls):.1f} | {listed} |")
    for baseline in ("plain, W&B offline", "plain"):
        ratios = [o / p for o, p in zip(runs["ours"], runs[baseline], strict=True)]
        print(
            f"\nwhole-run ratio ours / {baseline}: {statistics.median(ratios):.3f} (median; the "
            f"runs': {', '.join(f'{r:.3f}' for r in ratios)})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--work", type=Path, default=None, help="folder for the runs")
    parser.add_argument("--only", choices=("startup", "whole"), default=None)
    parser.add_argument("--epochs", type=int, default=8, help="of the whole runs (default 8)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="startup_"))
    work.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"{date.today()}, {machine}\n")
    try:
        if args.only in (None, "startup"):
            startup_table(work, args.repeats)
        if args.only in (None, "whole"):
            whole_table(work, args.repeats, args.epochs)
    finally:
        if not args.work:  # its runs' checkpoints and W&B folders: about 1 GB
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
