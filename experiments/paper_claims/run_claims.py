"""Run the paper-claims study: one Hydra multirun per claim (configs/experiment/claim_*),
then the aggregation into tables and plots.

    python experiments/paper_claims/run_claims.py                     # the study (Fashion-MNIST)
    python experiments/paper_claims/run_claims.py --mode quick        # on digits, minutes
    python experiments/paper_claims/run_claims.py --claims lrn dropout --out /tmp/claims

``full``: Fashion-MNIST (Debian's dataset-fashion-mnist: `make data`), 10,000 training
images, 2,000 for validation, the official 10,000 test images, 8 epochs, 3 seeds; the
ten-crop claim trains on the PNG folders of out_of_the_box/make_folders.py. ``quick``:
the digits, 2 epochs: checks the machinery, not the science.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from aggregate import CLAIMS  # noqa: E402
from aggregate import main as aggregate_main  # noqa: E402

MODES = {
    "full": {
        "data": ["data=fashion_mnist", "data.train_size=10000", "data.val_size=2000"],
        "epochs": 8,
        "folder": "fashion",
    },
    "quick": {"data": ["data=digits"], "epochs": 2, "folder": "digits"},
}


def run(command: list[str], log: Path) -> None:
    started = time.perf_counter()
    with open(log, "w") as out:
        done = subprocess.run(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    print(f"  {time.perf_counter() - started:5.0f} s  {' '.join(command[2:])}", flush=True)
    if done.returncode != 0:
        raise SystemExit(f"failed (status {done.returncode}); see {log}")


def train_claim(name: str, mode: dict, out: Path, folders: Path) -> None:
    sweep = out / name
    data = mode["data"]
    if name == "ten_crop":
        data = [f"data.root={folders / mode['folder']}", "data.preset=paper"]
    command = [
        sys.executable,
        str(ROOT / "train.py"),
        "-m",
        f"experiment=claim_{name}",
        *data,
        f"trainer.max_epochs={mode['epochs']}",
        f"hydra.sweep.dir={sweep}",
    ]
    run(command, out / f"{name}.log")
    if name == "ten_crop":
        for job in sorted(p for p in sweep.iterdir() if (p / "results.json").is_file()):
            best = job / "checkpoints" / "last.ckpt"
            for tta in ("center", "ten_crop"):
                target = job / f"eval_{tta}"
                run(
                    [
                        sys.executable,
                        str(ROOT / "eval.py"),
                        f"ckpt_path={best}",
                        f"tta={tta}",
                        f"hydra.run.dir={target}",
                    ],
                    out / f"{name}_{job.name}_{tta}.log",
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=MODES, default="full")
    parser.add_argument("--claims", nargs="+", choices=CLAIMS, default=list(CLAIMS))
    parser.add_argument("--out", type=Path, default=None, help="default: /tmp/claims_<mode>")
    args = parser.parse_args()
    mode = MODES[args.mode]
    out = args.out or Path(f"/tmp/claims_{args.mode}")
    out.mkdir(parents=True, exist_ok=True)
    folders = out / "folders"
    if "ten_crop" in args.claims and not (folders / mode["folder"]).is_dir():
        what = ["--only", "digits"] if args.mode == "quick" else []
        run(
            [
                sys.executable,
                str(ROOT / "experiments/benchmarks/out_of_the_box/make_folders.py"),
                str(folders),
                *what,
            ],
            out / "folders.log",
        )
    for name in args.claims:
        print(f"{name}:", flush=True)
        train_claim(name, mode, out, folders)
    sys.argv = [sys.argv[0], str(out), "--out", str(out / "report")]
    aggregate_main()


if __name__ == "__main__":
    main()
