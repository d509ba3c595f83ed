"""A folder of real photographs in classes, ImageNet-sized, from a Debian package.

Debian's plasma-workspace-wallpapers photographs (JPEGs of 2560×1600 to 5120×2880;
``apt-get install plasma-workspace-wallpapers``), each cut into ``--per-class``
pictures: random windows of a quarter to three fifths of its shorter side, aspect 4:3
(or 3:4, one in four), resized to 500×375 (ImageNet's typical size) and saved as JPEG
quality 90 in ``<out>/<photograph>/NNNN.jpg``. One class per photograph: which
photograph a picture was cut from.

    python experiments/benchmarks/prepared_data/make_photos.py OUT [--classes 12]
        [--per-class 100]
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

WALLPAPERS = Path("/usr/share/wallpapers")


def photographs(count: int) -> list[Path]:
    """The largest JPEG of each of the first ``count`` wallpapers (photographs: the
    package's PNGs are mostly drawings)."""
    found = []
    for folder in sorted(WALLPAPERS.glob("*/contents/images")):
        jpegs = sorted(folder.glob("*.jpg"), key=lambda p: p.stat().st_size)
        if jpegs:
            found.append(jpegs[-1])
    if len(found) < count:
        raise SystemExit(
            f"{len(found)} photographs in {WALLPAPERS}, {count} wanted: "
            "apt-get install plasma-workspace-wallpapers (or fewer --classes)"
        )
    return found[:count]


def cut_pictures(photos: list[Path], folder: Path, per_class: int) -> None:
    """``folder/<photo>/NNNN.jpg``: ``per_class`` random windows of each photograph, at
    an ImageNet picture's size (shorter side 375), JPEG quality 90."""
    rng = np.random.default_rng(0)
    for photo in photos:
        target = folder / photo.parents[2].name
        if target.is_dir() and len(list(target.iterdir())) == per_class:
            continue
        target.mkdir(parents=True, exist_ok=True)
        with Image.open(photo) as image:
            image = image.convert("RGB")
            width, height = image.size
            for number in range(per_class):
                tall = rng.random() < 0.25
                short = int(rng.uniform(0.25, 0.6) * min(width, height))
                w, h = (short, short * 4 // 3) if tall else (short * 4 // 3, short)
                x, y = rng.integers(0, width - w + 1), rng.integers(0, height - h + 1)
                size = (375, 500) if tall else (500, 375)
                window = image.crop((x, y, x + w, y + h)).resize(size, Image.BILINEAR)
                window.save(target / f"{number:04d}.jpg", quality=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--classes", type=int, default=12)
    parser.add_argument("--per-class", type=int, default=100)
    args = parser.parse_args()
    cut_pictures(photographs(args.classes), args.out, args.per_class)
    print(f"{args.classes * args.per_class} pictures in {args.classes} classes in {args.out}")


if __name__ == "__main__":
    main()
