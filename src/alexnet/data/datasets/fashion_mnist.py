"""Fashion-MNIST (Xiao et al. 2017): 70,000 real 28×28 grayscale photographs of clothes,
10 classes, read from its original IDX files.

Where the files are looked for, in order: ``data.root`` (the four ``*-idx?-ubyte[.gz]``
files, or torchvision's ``FashionMNIST/raw/`` below it), then
``/usr/share/datasets/fashion-mnist`` (Debian and Ubuntu:
``apt-get install dataset-fashion-mnist``); with ``download=true`` torchvision fetches
them into ``data.root/FashionMNIST/raw``.
"""

import gzip
from pathlib import Path

import numpy as np
import torch
from torchvision import datasets

from alexnet.data.datasets.base import download
from alexnet.data.datasets.tensor_datamodule import TensorImagesDataModule
from alexnet.errors import UserError

DEBIAN_FOLDER = Path("/usr/share/datasets/fashion-mnist")
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CLASSES = list(datasets.FashionMNIST.classes)
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (LeCun's MNIST format; gzip-compressed or not) as an array.
    torchvision's reader opens only uncompressed files, as its download extracts them;
    Debian ships them compressed."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES:
        raise UserError(f"{path} is not an IDX file")
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    dtype = np.dtype(IDX_TYPES[data[2]])
    values = np.frombuffer(data, dtype=dtype, offset=4 + 4 * dims)
    if values.size != int(np.prod(shape)):
        raise UserError(f"{path} holds {values.size} values, its header says {shape}")
    return values.reshape(shape)


def find_file(folders: list[Path], name: str) -> Path | None:
    for folder in folders:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


class FashionMNISTDataModule(TensorImagesDataModule):
    """Fashion-MNIST: the official 60,000 training images (``val_size`` of them, a
    stratified fixed-seed choice, for validation) and the 10,000 test images.

    Args:
        root: where to look for the IDX files first (and where torchvision downloads).
        download: fetch them with torchvision when they are nowhere to be found.
        val_size: training images held out for validation.
        train_size: use only this many of the remaining training images (a stratified
            fixed-seed subset; null: all), for short studies.
        split_seed: seed of those choices.
    """

    def __init__(
        self,
        root: str = "data",
        download: bool = True,
        val_size: int = 5000,
        train_size: int | None = None,
        split_seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.root, self.download = Path(root), download
        self.val_size, self.train_size, self.split_seed = val_size, train_size, split_seed

    def folders(self) -> list[Path]:
        return [self.root, self.root / "FashionMNIST" / "raw", DEBIAN_FOLDER]

    def prepare_data(self) -> None:
        if self.download and find_file(self.folders(), FILES["train"][0]) is None:
            download(lambda: datasets.FashionMNIST(str(self.root), download=True), self._missing)

    def _missing(self, reason: str) -> UserError:
        return UserError(
            f"Fashion-MNIST's IDX files are not in {self.root} nor {DEBIAN_FOLDER} ({reason}): "
            "apt-get install dataset-fashion-mnist, or data.download=true with network"
        )

    def _read(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        paths = [find_file(self.folders(), name) for name in FILES[split]]
        if None in paths:
            raise self._missing("not found")
        images, labels = (read_idx(path) for path in paths)
        if images.dtype != np.uint8 or images.ndim != 3:
            raise UserError(f"{paths[0]} does not hold 8-bit images (it holds {images.dtype})")
        if len(images) != len(labels):
            raise UserError(f"{paths[0]} and {paths[1]} hold different numbers of items")
        return images, labels

    def load(self) -> tuple[torch.Tensor, torch.Tensor, list[str], tuple[list, list, list]]:
        train_images, train_labels = self._read("train")
        test_images, test_labels = self._read("test")
        images = torch.from_numpy(np.concatenate([train_images, test_images]))
        labels = torch.from_numpy(np.concatenate([train_labels, test_labels]).astype(np.int64))
        n_train = len(train_labels)
        train, val = self.holdout(train_labels.tolist(), self.val_size, self.train_size)
        test = list(range(n_train, len(labels)))
        return images.unsqueeze(1), labels, CLASSES, (train, val, test)
