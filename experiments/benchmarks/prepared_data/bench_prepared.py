"""The paper's training pipeline from prepared data against today's JPEG pipeline, on
real photographs, in one run on one machine.

The pictures are Debian's plasma-workspace-wallpapers photographs cut into
ImageNet-sized pictures by make_photos.py, one class per photograph. Measured:

1. images per second per CPU core of the paper's training pipeline (shorter side to
   256, centre square, random 224 crop, flip, PCA lighting, normalise), one process
   and one torch thread:
   - JPEG: ``data.prepared.use=false``, the ImageFiles pipeline (decode every file);
   - prepared: ``data.prepared.use=true``, raw batches from the 256-pixel copy, augmented
     as whole batches (on the CPU here; on the GPU in a GPU run);
   - prepared as JPEG: ``data.prepared.jpeg_quality=90``, the same squares stored as
     JPEG files and decoded when read (on the CPU here; nvJPEG on a GPU);
2. preparation: wall time (all cores) and size on disk against the JPEG folder's;
3. accuracy: ``train.py`` on the same folder both ways, the same epochs and seeds
   (alexnet_mini at 32 px, from squares of 37 px), test top-1 of each seed, the mean
   difference with its 95% interval (Welch's t).

    python experiments/benchmarks/prepared_data/bench_prepared.py [--work DIR]
        [--per-class 100] [--classes 12] [--epochs 10] [--seeds 3]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch
from make_photos import cut_pictures, photographs
from scipy import stats

from alexnet.data import ImageFolderDataModule

ROOT = Path(__file__).resolve().parents[3]
JPEG_QUALITY = 90


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def images_per_second(datamodule: ImageFolderDataModule, seconds: float) -> float:
    """Training batches of ``datamodule`` taken for at least ``seconds`` (whole epochs):
    images per second."""
    loader = datamodule.train_dataloader()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for images, _ in loader:
            count += len(images)
    return count / (time.perf_counter() - started)


def module(
    folder: Path, work: Path, prepared: bool, num_workers: int = 0, quality: int | None = None
) -> ImageFolderDataModule:
    return ImageFolderDataModule(
        root=str(folder),
        preset="paper",
        image_size=224,
        batch_size=64,
        prepared={"use": prepared, "dir": str(work / "data" / "prepared"), "jpeg_quality": quality},
        cache_dir=str(work / "data" / ".cache"),
        num_workers=num_workers,
    )


def throughput(folder: Path, work: Path, seconds: float) -> dict:
    """Preparation, and both pipelines' images per second on one core."""
    cores = len(os.sched_getaffinity(0))
    started = time.perf_counter()
    module(folder, work, True, num_workers=cores).prepare_data()  # a process per core
    preparing_s = time.perf_counter() - started
    started = time.perf_counter()
    module(folder, work, True, num_workers=cores, quality=JPEG_QUALITY).prepare_data()
    preparing_jpeg_s = time.perf_counter() - started
    prepared = module(folder, work, True)
    prepared_jpeg = module(folder, work, True, quality=JPEG_QUALITY)
    files = module(folder, work, False)
    for datamodule in (prepared, prepared_jpeg, files):
        datamodule.setup()
    torch.set_num_threads(1)
    rates = {
        "jpeg": images_per_second(files, seconds),
        "prepared": images_per_second(prepared, seconds),
        "prepared_jpeg": images_per_second(prepared_jpeg, seconds),
    }
    torch.set_num_threads(cores)
    return {
        **rates,
        "images": len(prepared.train_set) + len(prepared.val_set) + len(prepared.test_set),
        "preparing_s": preparing_s,
        "preparing_jpeg_s": preparing_jpeg_s,
        "cores": cores,
        "jpeg_bytes": folder_size(folder),
        "prepared_bytes": folder_size(prepared.prepared_location),
        "prepared_jpeg_bytes": folder_size(prepared_jpeg.prepared_location),
    }


def test_accuracy(folder: Path, work: Path, prepared: bool, seed: int, epochs: int) -> float:
    """train.py on ``folder`` (alexnet_mini, the paper's pipeline): its test top-1."""
    run_dir = work / "runs" / f"{'prepared' if prepared else 'jpeg'}-{seed}"
    command = [
        sys.executable,
        str(ROOT / "train.py"),
        "data=image_folder",
        f"data.root={folder}",
        "data.preset=paper",
        f"data.prepared.use={str(prepared).lower()}",
        "model=alexnet_mini",
        f"trainer.max_epochs={epochs}",
        f"seed={seed}",
        "logger=csv",
        f"hydra.run.dir={run_dir}",
    ]
    environment = {**os.environ, "ALEXNET_DATA_DIR": str(work / "data")}
    result = subprocess.run(command, cwd=work, capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return json.loads((run_dir / "results.json").read_text())["metrics"]["test/acc"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=None, help="(default: a temporary folder)")
    parser.add_argument("--classes", type=int, default=12)
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0, help="per throughput figure")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_prepared_"))
    folder = work / "photos"
    cut_pictures(photographs(args.classes), folder, args.per_class)
    figures = throughput(folder, work, args.seconds)
    print(
        f"{figures['images']} pictures of {args.classes} photographs (500×375 JPEG q90); "
        f"{platform.processor() or platform.machine()}, {figures['cores']} cores, "
        f"torch {torch.__version__}, {date.today()}\n"
    )
    print("| pipeline (paper, 224 crop, one core) | img/s | ratio |")
    print("| --- | --- | --- |")
    print(f"| JPEG files (data.prepared.use=false) | {figures['jpeg']:.0f} | 1.00 |")
    ratio = figures["prepared"] / figures["jpeg"]
    print(f"| prepared 256 px (data.prepared.use=true) | {figures['prepared']:.0f} | {ratio:.2f} |")
    ratio = figures["prepared_jpeg"] / figures["jpeg"]
    print(
        f"| prepared 256 px as JPEG q{JPEG_QUALITY}, decoded on the CPU "
        f"(data.prepared.jpeg_quality={JPEG_QUALITY}) | {figures['prepared_jpeg']:.0f} | "
        f"{ratio:.2f} |"
    )
    print(
        f"\npreparation on {figures['cores']} cores: raw {figures['preparing_s']:.1f} s, "
        f"{figures['prepared_bytes'] / 2**20:.1f} MiB; JPEG q{JPEG_QUALITY} "
        f"{figures['preparing_jpeg_s']:.1f} s, {figures['prepared_jpeg_bytes'] / 2**20:.1f} MiB; "
        f"the source JPEGs {figures['jpeg_bytes'] / 2**20:.1f} MiB"
    )
    if not args.seeds:
        return
    accuracy = {
        kind: [
            test_accuracy(folder, work, kind == "prepared", seed, args.epochs)
            for seed in range(args.seeds)
        ]
        for kind in ("jpeg", "prepared")
    }
    print(f"\n| training ({args.epochs} epochs, alexnet_mini) | test top-1 by seed | mean |")
    print("| --- | --- | --- |")
    for kind, values in accuracy.items():
        shown = ", ".join(f"{100 * v:.1f}%" for v in values)
        print(f"| {kind} | {shown} | {100 * np.mean(values):.1f}% |")
    if args.seeds >= 2:
        prepared, jpeg = np.array(accuracy["prepared"]), np.array(accuracy["jpeg"])
        test = stats.ttest_ind(prepared, jpeg, equal_var=False)
        low, high = test.confidence_interval(0.95)
        print(
            f"\nprepared − JPEG: {100 * (prepared.mean() - jpeg.mean()):+.1f} points, 95% "
            f"interval [{100 * low:+.1f}, {100 * high:+.1f}] (Welch, df {test.df:.1f}), "
            f"p = {test.pvalue:.2f}"
        )


if __name__ == "__main__":
    main()
