"""``data.preset=auto``: the pipeline chosen from the images' sizes, normalised with the
training split's own per-channel statistics.

Small images (a median longer side of at most 64 pixels: digits, Fashion-MNIST,
CIFAR-like exports) get the ``small`` pipeline — RandomResizedCrop and RandAugment,
built for photos, destroy most of a 28-pixel image — and larger ones ``modern``. The
mean and std are measured once on (up to 2,000 of) the training images as the model
sees them and cached beside the data, keyed by the file list and the crop.
"""

import hashlib
import json
import statistics
from pathlib import Path

import torch
from torchvision.transforms import v2

from alexnet.data.images import load_rgb

SMALL_MAX_SIDE = 64
MAX_MEASURED = 2000
CACHE_NAME = ".alexnet-stats.json"


def choose_preset(sizes: list[tuple[int, int]]) -> str:
    """``small`` when the median longer side is at most 64 pixels, else ``modern``."""
    return "small" if statistics.median(max(size) for size in sizes) <= SMALL_MAX_SIDE else "modern"


def evenly_spaced(items: list, most: int) -> list:
    step = max(len(items) // most, 1)
    return items[::step][:most]


def channel_statistics(paths: list[str], crop: int, cache_dir: Path) -> tuple[list, list]:
    """Per-channel (mean, std) of the images at ``paths`` resized to ``crop``, in [0, 1]."""
    key = hashlib.sha256(f"{crop}\n".encode() + "\n".join(sorted(paths)).encode()).hexdigest()
    cache = cache_dir / CACHE_NAME
    try:
        cached = json.loads(cache.read_text())
    except (OSError, ValueError):
        cached = {}
    if key in cached:
        return cached[key]["mean"], cached[key]["std"]
    to_tensor = v2.Compose(
        [
            v2.Resize(crop, antialias=True),
            v2.CenterCrop(crop),
            v2.ToImage(),
            v2.ToDtype(torch.float64, scale=True),
        ]
    )
    total = squares = torch.zeros(3, dtype=torch.float64)
    pixels = 0
    for path in evenly_spaced(sorted(paths), MAX_MEASURED):
        image = to_tensor(load_rgb(path)).flatten(1)
        total, squares = total + image.sum(1), squares + (image**2).sum(1)
        pixels += image.shape[1]
    mean = total / pixels
    std = (squares / pixels - mean**2).clamp_min(1e-12).sqrt()
    measured = ([round(v, 6) for v in mean.tolist()], [round(v, 6) for v in std.tolist()])
    try:  # a read-only data folder only costs the measurement next time
        cached[key] = {"mean": measured[0], "std": measured[1], "images": len(paths)}
        cache.write_text(json.dumps(cached, indent=1))
    except OSError:
        pass
    return measured
