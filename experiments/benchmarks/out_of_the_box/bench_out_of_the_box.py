"""The project's default command against a plain PyTorch script, on a user's folders.

For each tree that make_folders.py writes (Fashion-MNIST's training split as PNG class
folders, and the digits as folders), in one run on one machine:

- ours: ``python train.py data=image_folder data.root=<tree> model=alexnet_mini
  trainer.max_epochs=5`` — the defaults and nothing else (it tests its best checkpoint
  by validation accuracy on <tree>/test);
- plain: plain_pytorch.py (ImageFolder, resize 32, pad-4 crop + flip, AdamW one-cycle,
  the same network), 5 epochs, tested on <tree>/test.

Wall time is measured around each command, start-up included.

    python experiments/benchmarks/out_of_the_box/bench_out_of_the_box.py [--work DIR]
        [--epochs 5] [--only digits]
"""

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
EPOCHS = 5


def timed(command: list[str], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - started, result.stdout


def ours(tree: Path, work: Path, epochs: int) -> dict:
    run_dir = work / f"ours_{tree.name}"
    command = [
        sys.executable,
        str(ROOT / "train.py"),
        "data=image_folder",
        f"data.root={tree}",
        "model=alexnet_mini",
        f"trainer.max_epochs={epochs}",
        f"hydra.run.dir={run_dir}",
    ]
    seconds, _ = timed(command, work)
    results = json.loads((run_dir / "results.json").read_text())
    return {"test_top1": results["metrics"]["test/acc"], "seconds": seconds}


def plain(tree: Path, work: Path, epochs: int) -> dict:
    command = [sys.executable, str(HERE / "plain_pytorch.py"), str(tree), "--epochs", str(epochs)]
    seconds, out = timed(command, work)
    return {"test_top1": json.loads(out.strip().splitlines()[-1])["test_top1"], "seconds": seconds}


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
            "ours": ours(work / tree, work, args.epochs),
            "plain": plain(work / tree, work, args.epochs),
        }
    print(f"{date.today()}, {platform.node()}, {platform.processor() or platform.machine()}")
    print("| data | command | test top-1 | wall time |")
    print("| --- | --- | --- | --- |")
    for tree, pair in rows.items():
        for name, result in pair.items():
            print(f"| {tree} | {name} | {result['test_top1']:.2%} | {result['seconds']:.0f} s |")
        gain = pair["ours"]["test_top1"] - pair["plain"]["test_top1"]
        ratio = pair["ours"]["seconds"] / pair["plain"]["seconds"]
        print(f"| {tree} | ours − plain | {gain * 100:+.2f} points | ×{ratio:.2f} |")
    (work / "results.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
