"""A CIFAR-10-shaped epoch through the DataLoader path and the on-device path
(`data.on_device=true`: the split held on the training device, crop + flip in batches).

    python experiments/benchmarks/small_dataset_epoch/bench_small_epoch.py [--train-steps 40]

Writes a CIFAR-10 fixture in the real on-disk format (5 × 10,000 + 10,000 random
images, pickled batches) into a temporary folder, then
1. times one pass over the 45,000 training images (5,000 are validation) of each data
   path alone, batch 128, the DataLoader with 0 and 2 workers;
2. times `--train-steps` training steps of alexnet_mini through the training task with
   each data path (on whatever device the task picks: a GPU if there is one).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

import alexnet  # noqa: F401  (config resolvers)
from alexnet.data import CIFAR10DataModule
from alexnet.tasks.train import train

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests"))
from fixtures import write_cifar10  # noqa: E402  (the test suite's real-format writer)

BATCH = 128


def data_epoch(root: Path, on_device: bool, workers: int = 0) -> tuple[float, int]:
    dm = CIFAR10DataModule(
        root=str(root),
        num_classes=10,
        image_size=32,
        batch_size=BATCH,
        num_workers=workers,
        on_device=on_device,
    )
    dm.setup()
    loader = dm.train_dataloader()
    start, seen = time.perf_counter(), 0
    for images, _ in loader:
        seen += len(images)
    return time.perf_counter() - start, seen


def training_steps(root: Path, on_device: bool, steps: int) -> float:
    with (
        tempfile.TemporaryDirectory() as tmp,
        initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"),
    ):
        cfg = compose(
            "train",
            overrides=[
                f"paths.output_dir={tmp}",
                f"paths.log_dir={tmp}",
                "paths.root_dir=.",
                "data=cifar10",
                f"data.root={root}",
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
        train(cfg)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-steps", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = write_cifar10(Path(tmp), per_batch=10_000)
        rows = [
            ("DataLoader, 0 workers", *data_epoch(root, False, 0)),
            ("DataLoader, 2 workers", *data_epoch(root, False, 2)),
            ("on device", *data_epoch(root, True)),
        ]
        on_device_rate = rows[2][2] / rows[2][1]
        print(f"1. One pass over the training split, data only, batch {BATCH}\n")
        print("| path | images | seconds | images/s | on-device speed-up |")
        print("| --- | --- | --- | --- | --- |")
        for name, seconds, seen in rows:
            rate = seen / seconds
            print(
                f"| {name} | {seen} | {seconds:.2f} | {rate:.0f} | {on_device_rate / rate:.1f}× |"
            )
        loader_s = training_steps(root, False, args.train_steps)
        device_s = training_steps(root, True, args.train_steps)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        print(
            f"\n2. {args.train_steps} training steps of alexnet_mini, batch {BATCH}, on {device} "
            "(the training task, data loading included)\n"
        )
        print("| path | seconds | images/s |")
        print("| --- | --- | --- |")
        for name, seconds in (
            ("DataLoader (automatic workers)", loader_s),
            ("on device", device_s),
        ):
            print(f"| {name} | {seconds:.1f} | {args.train_steps * BATCH / seconds:.0f} |")
        print(f"\nratio DataLoader / on-device time: {loader_s / device_s:.2f}")


if __name__ == "__main__":
    main()
