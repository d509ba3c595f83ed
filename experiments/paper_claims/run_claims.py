"""Run the paper-claims study: for each claim, check that its arms differ only in the
claimed factor, train every arm with several seeds (configs/experiment/claim_*), then
aggregate into tables and plots with verdicts (aggregate.py).

    python experiments/paper_claims/run_claims.py                   # the study (Fashion-MNIST)
    python experiments/paper_claims/run_claims.py --mode quick      # on digits, minutes
    python experiments/paper_claims/run_claims.py --mode gpu        # full size: CIFAR-10, a GPU
    python experiments/paper_claims/run_claims.py --claims lrn dropout --out /tmp/claims

``full``: Fashion-MNIST (Debian's dataset-fashion-mnist: `make data`), 2,000 validation
and the official 10,000 test images, each claim's own training set and epochs, 5 seeds,
two runs at a time on one thread each. ``quick``: the digits, 2 epochs, 2 seeds: checks
the machinery (every verdict is "not tested"). ``gpu``: CIFAR-10 (downloaded), on the
device, longer schedules, one run at a time.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from functools import partial
from importlib.metadata import version
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from aggregate import early_train_error, read_arms  # noqa: E402
from aggregate import main as aggregate_main  # noqa: E402
from claims import CLAIMS, MODES, Claim  # noqa: E402
from factors import check_factor  # noqa: E402

from alexnet.atomic import write_atomically  # noqa: E402
from alexnet.errors import EXIT_DIVERGED  # noqa: E402

HYDRA_LOCK = threading.Lock()  # Hydra's compose API is global state: one thread at a time
DIVERGED = "diverged"  # in a run directory: the run diverged (its log's last line)
#: The published study's runs, kept in the repository (what aggregate.py reads of each:
#: study/.gitignore), so that it goes on where it stopped on any machine.
STUDY = HERE / "study"
EXTENSIONS = 2  # how many times an arm's rate grid may grow past its edge
#: The claims whose arms take longest (full mode), started first to balance the workers.
LONGEST = ["bias_init", "dropout", "two_columns", "lrn", "weight_decay", "overlapping_pool"]
SITTINGS = "sittings.json"  # in the study's folder: when, where and on what each sitting ran


def machine() -> dict[str, object]:
    """The processor, its cores and the versions a sitting ran on."""
    cpuinfo = Path("/proc/cpuinfo")  # Linux's; elsewhere platform's word
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    names = [line for line in lines if line.startswith("model name")]
    cpu = names[0].split(":", 1)[1].strip() if names else platform.processor()
    return {
        "machine": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lightning": version("lightning"),
    }


class Sitting:
    """This sitting's entry in the study's sittings.json, written when its first run
    finishes (a sitting that finishes none, such as a rerun that only writes the report,
    leaves no entry): when it started and on what machine, how many runs it finished and
    when the last one did (a sitting may end with SIGKILL: its end is its last run's)."""

    def __init__(self, out: Path):
        self.path, self.lock = out / SITTINGS, threading.Lock()
        self.before = json.loads(self.path.read_text()) if self.path.is_file() else []
        self.entry = {"started": utc_now(), **machine(), "runs": 0, "last_run": None}

    def run_finished(self) -> None:
        with self.lock:
            self.entry.update(runs=self.entry["runs"] + 1, last_run=utc_now())
            text = json.dumps([*self.before, self.entry], indent=2) + "\n"
            write_atomically(self.path, lambda file: file.write(text.encode()))


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


class RunFailed(Exception):
    """A run of the study ended with an error (a run that diverged is a result)."""


class Study:
    """Where the study writes, how it runs its commands, what it prints."""

    def __init__(self, mode: str, out: Path, jobs: int):
        self.mode, self.settings, self.out = mode, MODES[mode], out
        self.env = {**os.environ, "OMP_NUM_THREADS": str(max((os.cpu_count() or 1) // jobs, 1))}
        self.slots = ThreadPoolExecutor(jobs)  # the runs: ``jobs`` at a time
        self.sitting = Sitting(out)

    def run(
        self, command: list[str], log: Path, may_diverge: bool = False, way_out: str = ""
    ) -> int:
        """Run ``command`` into ``log``; its exit status (a run that diverged, where
        ``may_diverge``). One that fails is said at once, with its log's last line and
        ``way_out``, and stops its task (:class:`RunFailed`)."""
        started = time.perf_counter()
        log.parent.mkdir(parents=True, exist_ok=True)
        # Dies with the study, even on SIGKILL: strictly, with the thread that started it
        # (Linux's parent-death signal), here one of self.slots', which outlive their runs.
        ends_with_study = [sys.executable, "-m", "alexnet.processes"]
        with open(log, "w") as output:
            done = subprocess.run(
                [*ends_with_study, *command],
                cwd=ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        took = time.perf_counter() - started
        print(f"  {took:5.0f} s  {log.stem}", flush=True)
        if done.returncode not in ((0, EXIT_DIVERGED) if may_diverge else (0,)):
            last = (log.read_text().strip().splitlines() or ["(no output)"])[-1]
            print(
                f"  failed {log.stem} (status {done.returncode}): {last} — {log}{way_out}",
                flush=True,
            )
            raise RunFailed(log.stem)
        return done.returncode

    def overrides(self, name: str, claim: Claim) -> list[str]:
        """The claim's shared overrides in this mode (before its arms')."""
        own = {"full": claim.full, "gpu": claim.gpu}.get(self.mode, ())
        data = self.settings["data"]
        if name == "ten_crop":
            folder = self.out / "folders" / self.settings["folder"]
            data = (f"data.root={folder}", "data.num_workers=0")
            own = own if self.mode == "full" else ("trainer.max_epochs=2",)
        return [f"experiment=claim_{name}", *data, *own]

    def train(
        self, name: str, claim: Claim, arm: str, overrides: list[str], seeds: list[int]
    ) -> Path:
        """Each seed's run of one arm (:meth:`train_many`); the arm's folder."""
        self.train_many(name, [(arm, overrides, seeds)])
        return self.out / name / arm

    def train_many(self, name: str, arms: list[tuple[str, list[str], list[int]]]) -> None:
        """Each seed's run of each ``(arm, overrides, seeds)``, ``jobs`` at a time, in
        ``<out>/<claim>/<arm>/<seed>/``: a finished one (its results.json written) is
        kept, one stopped part-way continues from its last checkpoint (``resume=``), so
        that running the study again goes on where it stopped."""
        runs = [(arm, overrides, seed) for arm, overrides, seeds in arms for seed in seeds]
        for started in [self.slots.submit(self.train_one, name, *run) for run in runs]:
            started.result()

    def train_one(self, name: str, arm: str, overrides: list[str], seed: int) -> None:
        run = self.out / name / arm / str(seed)
        log = self.out / "logs" / f"{name}.{arm.replace('/', '.')}.{seed}.log"
        if (run / "results.json").is_file() or (run / DIVERGED).is_file():
            print(f"  done   {log.stem}", flush=True)
            return
        if (run / "checkpoints" / "last.ckpt").is_file():
            where, anew = f"resume={run}", f"; to train it anew, remove {run}"
        else:
            shutil.rmtree(run, ignore_errors=True)
            where, anew = f"hydra.run.dir={run}", ""
        command = [sys.executable, "train.py", *overrides, f"seed={seed}", where]
        if self.run(command, log, may_diverge=True, way_out=anew) == EXIT_DIVERGED:
            # a result: no results.json, the arm has one run fewer (or the rate lost)
            run.mkdir(parents=True, exist_ok=True)
            (run / DIVERGED).write_text(log.read_text().splitlines()[-1] + "\n")
        else:
            keep_tested_checkpoint(run)
        self.sitting.run_finished()

    def seeds(self) -> list[int]:
        return list(range(1, self.settings["seeds"] + 1))

    def tests(self, claim: Claim) -> bool:
        """Whether this mode runs ``claim`` (full mode leaves the "not tested" out)."""
        return not (claim.not_tested and self.mode == "full")


def keep_tested_checkpoint(run: Path) -> None:
    """Remove a finished run's checkpoints but the one it tested (results.json's
    ``best_checkpoint``, which the weight-norm metric and the paired evaluations read):
    an AlexNet run's are 683 MB each."""
    tested = Path(json.loads((run / "results.json").read_text())["best_checkpoint"])
    for checkpoint in (run / "checkpoints").glob("*.ckpt"):
        if checkpoint.resolve() != tested.resolve():
            checkpoint.unlink()


def checkpoints_tested(runs: Path) -> list[Path]:
    """The checkpoint each finished run below ``runs`` tested, by seed."""
    return [
        Path(json.loads(results.read_text())["best_checkpoint"])
        for results in sorted(runs.glob("*/results.json"))
    ]


def best_rates(study: Study, name: str, claim: Claim) -> dict[str, float]:
    """Each arm's learning rate: the best of ``claim.tune_lr`` on seed 0 (whose
    initialisation and training subset the comparison does not use) by the mean training
    error of the whole run (a speed claim) or the validation error at the endpoint. A
    best rate at the grid's edge extends the arm's grid that way, up to EXTENSIONS
    times. The grids and the choice go to ``<claim>/learning_rates.json``."""
    base, folder = study.overrides(name, claim), study.out / name / "grid"
    grids = {arm.name: sorted(claim.tune_lr) for arm in claim.arms}
    own = {arm.name: arm.overrides for arm in claim.arms}

    def cost(run) -> float:
        if claim.fractions:
            return early_train_error(run)
        return 1 - run.curves["val/acc"][-1][1]

    for _ in range(EXTENSIONS + 1):
        study.train_many(
            name,
            [
                (f"grid/{arm}/lr_{lr}", [*base, *own[arm], f"optimizer.lr={lr}"], [0])
                for arm, grid in grids.items()
                for lr in grid
            ],
        )
        rates = {
            arm: float(min(runs, key=cost).overrides["optimizer.lr"])
            for arm, runs in read_arms(claim, folder).items()
        }
        beyond = {arm: rate_beyond(grids[arm], rate) for arm, rate in rates.items()}
        if not any(beyond.values()):
            break
        for arm, rate in beyond.items():
            if rate:
                grids[arm] = sorted([*grids[arm], rate])
    at_edge = sorted(arm for arm, rate in beyond.items() if rate)
    chosen = {"grid": grids, "chosen": rates, "at_edge": at_edge}
    (study.out / name / "learning_rates.json").write_text(json.dumps(chosen, indent=1))
    print(f"  {name}: learning rates {rates}" + (f" (at the edge: {at_edge})" * bool(at_edge)))
    return rates


def rate_beyond(grid: list[float], best: float) -> float | None:
    """The next rate past the grid's edge where ``best`` is at it (the grid's own step,
    one significant digit: 0.001 -> 0.0003, 0.1 -> 0.3), else None."""
    if best == grid[0]:
        return float(f"{grid[0] * grid[0] / grid[1]:.0e}")
    if best == grid[-1]:
        return float(f"{grid[-1] * grid[-1] / grid[-2]:.0e}")
    return None


def arm_overrides(study: Study, name: str, claim: Claim, rates: dict) -> list[list[str]]:
    base = study.overrides(name, claim)
    return [
        [*base, *arm.overrides, *([f"optimizer.lr={rates[arm.name]}"] if arm.name in rates else [])]
        for arm in claim.arms
    ]


def checked(study: Study, name: str, claim: Claim, arms: list[list[str]]) -> None:
    """Refuse to run arms that differ in more than the claimed factor; note what they
    differ in (``factor.json``)."""
    if claim.paired:  # evaluations of the same checkpoints: eval.py's configs
        arms, config = [list(a.overrides) for a in claim.arms], "eval"
    else:
        config = "train"
    with HYDRA_LOCK:
        differing = {
            "pair": check_factor(claim.factor, arms[:2], config),
            "all": check_factor(claim.factor, arms, config),
        }
    (study.out / name).mkdir(parents=True, exist_ok=True)
    (study.out / name / "factor.json").write_text(json.dumps(differing, indent=1))
    shown = "; ".join(f"{k}: {' | '.join(map(str, v))}" for k, v in differing["pair"].items())
    print(f"  {name}: the verdict's arms differ in {shown}", flush=True)


def run_claim(study: Study, name: str) -> None:
    """A claim whose steps depend on each other: the learning-rate grid before the arms,
    or the training before the evaluations of its checkpoints."""
    claim = CLAIMS[name]
    rates = best_rates(study, name, claim) if claim.tune_lr and study.mode != "quick" else {}
    arms = arm_overrides(study, name, claim, rates)
    checked(study, name, claim, arms)
    if not claim.paired:
        seeds = study.seeds()
        study.train_many(name, [(a.name, o, seeds) for a, o in zip(claim.arms, arms, strict=True)])
        return
    trained = study.train(name, claim, "train", study.overrides(name, claim), study.seeds())
    checkpoints = checkpoints_tested(trained)
    for arm in claim.arms:
        evaluations = study.out / name / arm.name
        if len(list(evaluations.glob("*/metrics.json"))) == len(checkpoints):
            continue  # evaluated before
        shutil.rmtree(evaluations, ignore_errors=True)
        evaluate = [sys.executable, "eval.py", "-m", f"ckpt_path={','.join(map(str, checkpoints))}"]
        where = f"hydra.sweep.dir={evaluations}"
        study.run([*evaluate, *arm.overrides, where], study.out / "logs" / f"{name}.{arm.name}.log")


def tasks(study: Study, names: list[str]) -> list[Callable[[], None]]:
    """The study as independent tasks, longest first: a whole claim where its steps
    depend on each other, else one task per arm (its factor checked first)."""
    whole, per_arm = [], []
    for name in names:
        claim = CLAIMS[name]
        if not study.tests(claim):
            print(f"  {name}: not tested: {claim.not_tested}", flush=True)
            continue
        if claim.paired or claim.tune_lr:
            whole.append(partial(run_claim, study, name))
            continue
        arms = arm_overrides(study, name, claim, {})
        checked(study, name, claim, arms)
        per_arm += [
            (
                LONGEST.index(name) if name in LONGEST else len(LONGEST),
                partial(study.train, name, claim, arm.name, overrides, study.seeds()),
            )
            for arm, overrides in zip(claim.arms, arms, strict=True)
        ]
    return whole + [task for _, task in sorted(per_arm, key=lambda pair: pair[0])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=MODES, default="full")
    parser.add_argument("--claims", nargs="+", choices=CLAIMS, default=list(CLAIMS))
    parser.add_argument(
        "--out", type=Path, default=None, help=f"default: {STUDY} (full), /tmp/claims_<mode>"
    )
    parser.add_argument(
        "--jobs", type=int, default=None, help="runs at a time (default: 2, gpu: 1)"
    )
    args = parser.parse_args()
    jobs = args.jobs or (1 if args.mode == "gpu" else 2)
    out = args.out or (STUDY if args.mode == "full" else Path(f"/tmp/claims_{args.mode}"))
    out.mkdir(parents=True, exist_ok=True)
    study = Study(args.mode, out, jobs)
    claims = [c for c in args.claims if args.mode != "gpu" or CLAIMS[c].gpu]
    folder = study.settings["folder"]
    ten_crop_runs = "ten_crop" in claims and study.tests(CLAIMS["ten_crop"])
    if ten_crop_runs and not (out / "folders" / folder).is_dir():
        make = ROOT / "experiments/benchmarks/out_of_the_box/make_folders.py"
        study.run(
            [sys.executable, str(make), str(out / "folders"), "--only", folder],
            out / "logs" / "folders.log",
        )
    started = time.perf_counter()
    failed = run_all(tasks(study, claims))
    print(f"study: {time.perf_counter() - started:.0f} s, results in {out}", flush=True)
    aggregate_main([str(out), "--out", str(out / "report")])
    if failed:
        raise SystemExit(
            f"study: {', '.join(failed)} failed (above), each stopping its claim's task; the "
            "report has the rest: once fixed, run the study again to go on"
        )


def run_all(work: list[Callable[[], None]]) -> list[str]:
    """Run the study's tasks side by side, each to its end or its first failed run;
    the failed runs' names. (A task that fails does not stop the others: a study of
    hours goes on with what it can.)"""
    failed = []
    with ThreadPoolExecutor(len(work)) as pool:  # they wait for study.slots' runs
        for task in as_completed([pool.submit(task) for task in work]):
            try:
                task.result()
            except RunFailed as failure:
                failed.append(str(failure))
    return failed


if __name__ == "__main__":
    main()
