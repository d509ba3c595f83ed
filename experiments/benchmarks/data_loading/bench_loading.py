"""Images/s of each image pipeline through our ImageFiles dataset and through
torchvision's plain ImageFolder with the same transforms, in the same process.

    python experiments/benchmarks/data_loading/bench_loading.py [--images 640] [--workers 0 2]

It writes an ImageNet-shaped fixture (JPEGs of 256-500 px sides) into a temporary
folder, then times one pass of a DataLoader (batch 64) per pipeline, loader and
worker count, best of --repeats, and prints a markdown table, then how fast the
paper's network trains on the same machine, for scale.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder

from alexnet.data.loading.transforms import eval_transform, image_files_recipe, train_transform
from alexnet.data.storage.files import ImageFiles, list_class_folders, scan_class_folders
from alexnet.models import AlexNet


def write_jpegs(root: Path, images: int, classes: int = 8, seed: int = 0) -> None:
    """Smooth random JPEGs (noise would compress unrealistically badly)."""
    rng = np.random.default_rng(seed)
    for i in range(images):
        w, h = rng.integers(256, 501, size=2)
        coarse = rng.integers(0, 256, size=(h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((int(w), int(h)), Image.BILINEAR)
        path = root / f"class_{i % classes:02d}" / f"img_{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, quality=90)


def images_per_second(dataset, workers: int, repeats: int) -> float:
    loader = DataLoader(dataset, batch_size=64, num_workers=workers)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _batch in loader:
            pass
        best = min(best, time.perf_counter() - start)
    return len(dataset) / best


def training_images_per_second(steps: int = 3, batch: int = 32) -> float:
    """For scale: SGD steps of the paper's network at 227×227 on this machine."""
    model = AlexNet(num_classes=1000).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images, targets = torch.randn(batch, 3, 227, 227), torch.randint(0, 1000, (batch,))
    for step in range(steps + 1):
        if step == 1:
            start = time.perf_counter()  # the first step warms up
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(images), targets).backward()
        optimizer.step()
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=640)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--train-batch", type=int, default=32, help="for the model's rate")
    args = parser.parse_args()
    pipelines = {
        "paper train (224 crop, flip, PCA lighting)": train_transform("paper", 224),
        "modern train (RandomResizedCrop, RandAugment)": train_transform("modern", 224),
        "centre-crop eval": eval_transform(image_files_recipe(224, "paper")),
        "ten-crop eval": eval_transform(image_files_recipe(224, "paper"), "ten_crop"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_jpegs(root, args.images)
        samples = scan_class_folders(root, list_class_folders(root)).samples
        print(f"{args.images} JPEGs (256-500 px), batch 64, best of {args.repeats}\n")
        print("| pipeline | workers | ImageFiles img/s | torchvision ImageFolder img/s | ratio |")
        print("| --- | --- | --- | --- | --- |")
        for name, transform in pipelines.items():
            for workers in args.workers:
                ours = images_per_second(ImageFiles(samples, transform), workers, args.repeats)
                plain = images_per_second(ImageFolder(str(root), transform), workers, args.repeats)
                print(f"| {name} | {workers} | {ours:.0f} | {plain:.0f} | {ours / plain:.2f} |")
    rate = training_images_per_second(batch=args.train_batch)
    print(
        f"\nFor scale, the paper's network trains at {rate:.0f} img/s here "
        f"(227×227, batch {args.train_batch})."
    )


if __name__ == "__main__":
    main()
