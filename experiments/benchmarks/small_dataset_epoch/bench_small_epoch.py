"""A CIFAR-10-shaped epoch: torchvision's per-image DataLoader pipeline (what the project
used before, and what most training scripts do) against the project's in-memory paths,
host memory (`data.on_device=false`: uint8 batches copied to the device, augmented
there) and on the device (`data.on_device=true`).

    python experiments/benchmarks/small_dataset_epoch/bench_small_epoch.py [--train-steps 40]

Writes a CIFAR-10 fixture in the real on-disk format (5 × 10,000 + 10,000 random
images, pickled batches) into a temporary folder, then
1. times one pass over the 45,000 training images (5,000 are validation) of each data
   path alone, batch 128, crop + flip + normalise, the DataLoader with 0 workers and
   with one per core;
2. times `--train-steps` training steps of alexnet_mini: a plain PyTorch loop over the
   DataLoader (one worker per core), and the training task on each in-memory path (on
   whatever device the task picks: a GPU if there is one).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from alexnet.data import CIFAR10DataModule
from alexnet.data.datasets.cifar10 import CIFAR10Folder
from alexnet.data.loading.on_device import DeviceBatches, TensorReader
from alexnet.data.loading.sampling import ShardSampler
from alexnet.models import create_model
from alexnet.run.cli import compose, spec_of
from alexnet.tasks.train import train

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests"))
from fixtures import write_cifar10  # noqa: E402  (the test suite's real-format writer)

BATCH = 128
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def torchvision_loader(root: Path, workers: int) -> DataLoader:
    """torchvision's CIFAR10 through per-image transforms v2 and a DataLoader."""
    augment = v2.Compose(
        [
            v2.ToImage(),
            v2.RandomCrop(32, padding=4, padding_mode="edge"),
            v2.RandomHorizontalFlip(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize([0.49, 0.48, 0.45], [0.25, 0.24, 0.26]),
        ]
    )
    dataset = CIFAR10Folder(str(root), train=True, transform=augment)  # torchvision's, no MD5
    return DataLoader(
        dataset,
        batch_size=BATCH,
        shuffle=True,
        num_workers=workers,
        pin_memory=DEVICE.type == "cuda",
        persistent_workers=workers > 0,
    )


def timed_pass(batches) -> tuple[float, int]:
    start, seen = time.perf_counter(), 0
    for images, _ in batches:
        images = images.to(DEVICE, non_blocking=True)
        seen += len(images)
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, seen


def in_memory_batches(root: Path, on_device: bool, val_size: int):
    """The task's training batches (the training split less ``val_size`` images)."""
    dm = CIFAR10DataModule(
        root=str(root), image_size=32, batch_size=BATCH, on_device=on_device, val_size=val_size
    )
    dm.setup()
    images, labels = dm.train_set.tensors
    if on_device:
        images, labels = images.to(DEVICE), labels.to(DEVICE)
    sampler = ShardSampler(len(labels), True, seed=0)
    return DeviceBatches(TensorReader(images, labels), BATCH, sampler, dm.pipeline, True, DEVICE)


def plain_training(root: Path, steps: int) -> float:
    """``steps`` SGD steps of alexnet_mini on the DataLoader's batches."""
    net = create_model("alexnet_mini", num_classes=10).to(DEVICE)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    start = time.perf_counter()
    for step, (images, labels) in enumerate(torchvision_loader(root, CORES)):
        if step == steps:
            break
        loss = F.cross_entropy(net(images.to(DEVICE)), labels.to(DEVICE))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def training_steps(root: Path, on_device: bool, steps: int, val_size: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = compose(
            ROOT / "configs",
            "train",
            [
                f"paths.output_dir={tmp}",
                f"paths.log_dir={tmp}",
                "paths.root_dir=.",
                "data=cifar10",
                f"data.root={root}",
                f"data.val_size={val_size}",
                f"data.on_device={on_device}",
                f"data.batch_size={BATCH}",
                "model=alexnet_mini",
                "scheduler=none",
                "callbacks=none",
                "logger=none",
                "test=false",
                "trainer.max_epochs=1",
                f"trainer.limit_train_batches={steps}",
                "trainer.limit_val_batches=0",
                "+trainer.num_sanity_val_steps=0",
                "+trainer.enable_checkpointing=false",
                "trainer.enable_progress_bar=false",
                "trainer.enable_model_summary=false",
            ],
        )
        start = time.perf_counter()
        train(spec_of(train, cfg))
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-steps", type=int, default=40)
    parser.add_argument("--images-per-batch-file", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = write_cifar10(Path(tmp), per_batch=args.images_per_batch_file)
        val = args.images_per_batch_file // 2  # validation images: CIFAR-10's 5,000 at full size
        rows = [
            ("torchvision DataLoader, 0 workers", *timed_pass(torchvision_loader(root, 0))),
            (
                f"torchvision DataLoader, {CORES} workers",
                *timed_pass(torchvision_loader(root, CORES)),
            ),
            ("host memory (on_device=false)", *timed_pass(in_memory_batches(root, False, val))),
            ("on device (on_device=true)", *timed_pass(in_memory_batches(root, True, val))),
        ]
        on_device_rate = rows[-1][2] / rows[-1][1]
        print(f"1. One pass over the training split, data only, batch {BATCH}, to {DEVICE}\n")
        print("| path | images | seconds | images/s | on-device speed-up |")
        print("| --- | --- | --- | --- | --- |")
        for name, seconds, seen in rows:
            rate = seen / seconds
            print(
                f"| {name} | {seen} | {seconds:.2f} | {rate:.0f} | {on_device_rate / rate:.1f}× |"
            )
        steps = args.train_steps
        timings = [
            (f"plain loop, torchvision DataLoader ({CORES} workers)", plain_training(root, steps)),
            ("training task, host memory", training_steps(root, False, steps, val)),
            ("training task, on device", training_steps(root, True, steps, val)),
        ]
        print(
            f"\n2. {steps} training steps of alexnet_mini, batch {BATCH}, on {DEVICE} "
            "(data loading included; the task's time includes its set-up)\n"
        )
        print("| path | seconds | images/s |")
        print("| --- | --- | --- |")
        for name, seconds in timings:
            print(f"| {name} | {seconds:.1f} | {steps * BATCH / seconds:.0f} |")
        print(f"\nratio DataLoader / on-device time: {timings[0][1] / timings[-1][1]:.2f}")


if __name__ == "__main__":
    main()
