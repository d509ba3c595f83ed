"""CIFAR-10 from torchvision's files: 60,000 32×32 colour images in 10 classes."""

from pathlib import Path

import numpy as np
import torch
from torchvision import datasets

from alexnet.data.datasets.base import download
from alexnet.data.datasets.tensor_datamodule import Splits, TensorImagesDataModule
from alexnet.errors import UserError


class CIFAR10Folder(datasets.CIFAR10):
    """torchvision's CIFAR10 that checks the batch files exist rather than their MD5
    sums: a copy placed by hand or repacked still loads (torchvision still checks the
    archive's MD5 when it downloads)."""

    train_list = [[name, None] for name, _ in datasets.CIFAR10.train_list]
    test_list = [[name, None] for name, _ in datasets.CIFAR10.test_list]
    meta = {**datasets.CIFAR10.meta, "md5": None}


def files_present(root: Path) -> bool:
    """Whether every CIFAR-10 batch file is under ``root``."""
    folder = root / CIFAR10Folder.base_folder
    names = [name for name, _ in CIFAR10Folder.train_list + CIFAR10Folder.test_list]
    return all((folder / name).is_file() for name in [*names, CIFAR10Folder.meta["filename"]])


class CIFAR10DataModule(TensorImagesDataModule):
    """CIFAR-10, held in memory as its uint8 pixels, with a fixed-seed validation split
    carved from the training set; by default training images get a random crop (from
    the image extended by 4 edge pixels) and a horizontal flip.

    Args:
        root: folder that holds (or will hold) ``cifar-10-batches-py/``.
        download: fetch the archive in ``prepare_data`` when the files are absent.
        val_size: images taken from the training set for validation.
        split_seed: seed of that split.
    """

    def __init__(
        self,
        root: str = "data/cifar10",
        download: bool = True,
        val_size: int = 5000,
        split_seed: int = 0,
        augment: bool = True,
        **kwargs,
    ):
        super().__init__(augment=augment, **kwargs)
        self.root, self.download = Path(root), download
        self.val_size, self.split_seed = val_size, split_seed

    def _missing(self, reason: str) -> UserError:
        return UserError(
            f"CIFAR-10 is not in {self.root} ({reason}). Download "
            f"{datasets.CIFAR10.url} and extract it there (it holds "
            f"{datasets.CIFAR10.base_folder}/), or point data.root at a copy."
        )

    def _dataset(self, train: bool) -> CIFAR10Folder:
        try:
            return CIFAR10Folder(str(self.root), train=train)
        except RuntimeError as err:
            raise self._missing(str(err)) from None

    def prepare_data(self) -> None:
        if self.download and not files_present(self.root):
            download(lambda: datasets.CIFAR10(str(self.root), download=True), self._missing)

    def load(self) -> tuple[torch.Tensor, torch.Tensor, list[str], Splits]:
        train, test = self._dataset(True), self._dataset(False)
        if not 0 < self.val_size < len(train):
            raise UserError(f"data.val_size={self.val_size} must be between 1 and {len(train) - 1}")
        pixels = np.concatenate([train.data, test.data])  # (N, 32, 32, 3) uint8
        images = torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()
        labels = torch.tensor(train.targets + test.targets)
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(self.split_seed))
        splits = (
            order[self.val_size :].tolist(),
            order[: self.val_size].tolist(),
            list(range(len(train), len(labels))),
        )
        return images, labels, list(train.classes), splits
