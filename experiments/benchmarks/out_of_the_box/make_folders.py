"""Class-folder PNG trees of real data, as a user would have them:

- ``fashion/``: 10,000 training, 2,000 validation and 5,000 test images, all drawn from
  Fashion-MNIST's official *training* split (its test split is never touched), stratified;
- ``digits/``: scikit-learn's 1,797 digits, 70/15/15, stratified.

    python experiments/benchmarks/out_of_the_box/make_folders.py OUT_DIR
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

from alexnet.data.datasets.fashion_mnist import CLASSES, DEBIAN_FOLDER, FILES, find_file, read_idx
from alexnet.data.loading.splits import per_class_holdout, stratified_split

SEED = 0


def write_tree(root: Path, images: np.ndarray, labels: np.ndarray, names: list[str], splits):
    for split, positions in zip(("train", "val", "test"), splits, strict=True):
        for i in positions:
            folder = root / split / names[labels[i]]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[i]).save(folder / f"{i:05d}.png")


def fashion(root: Path, source: Path) -> None:
    found = [find_file([source], name) for name in FILES["train"]]
    if None in found:
        raise SystemExit(
            f"no Fashion-MNIST training files in {source}: "
            "apt-get install dataset-fashion-mnist, or give --fashion-mnist DIR"
        )
    images, labels = read_idx(found[0]), read_idx(found[1]).astype(int)
    picked, _ = per_class_holdout(labels.tolist(), 1 - 17_000 / len(labels), SEED)
    rest = labels[picked].tolist()
    train, val, test = stratified_split(rest, 2_000 / 17_000, 5_000 / 17_000, SEED)
    write_tree(root, images, labels, CLASSES, [[picked[i] for i in s] for s in (train, val, test)])


def digits(root: Path) -> None:
    data = load_digits()
    images = (data.images * 255 / 16).astype(np.uint8)
    splits = stratified_split(data.target.tolist(), 0.15, 0.15, SEED)
    write_tree(root, images, data.target, [str(n) for n in data.target_names], splits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--fashion-mnist", type=Path, default=DEBIAN_FOLDER)
    parser.add_argument("--only", choices=("fashion", "digits"), default=None)
    args = parser.parse_args()
    trees = [args.only] if args.only else ["fashion", "digits"]
    if "fashion" in trees:
        fashion(args.out / "fashion", args.fashion_mnist)
    if "digits" in trees:
        digits(args.out / "digits")
    for tree in trees:
        counts = {
            s: len(list((args.out / tree / s).rglob("*.png"))) for s in ("train", "val", "test")
        }
        print(tree, counts)


if __name__ == "__main__":
    main()
