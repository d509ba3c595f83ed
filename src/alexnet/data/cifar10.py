"""CIFAR-10 from torchvision: 60,000 32×32 colour images in 10 classes."""

from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, Subset
from torchvision import datasets
from torchvision.transforms import v2

from alexnet.data.base import ClassificationDataModule, download
from alexnet.data.on_device import random_crop_flip
from alexnet.data.transforms import PCALighting, eval_transform
from alexnet.errors import UserError

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


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


class CIFAR10DataModule(ClassificationDataModule):
    """CIFAR-10 with a fixed-seed validation split carved from the training set.

    Training: random crop with 4-pixel padding and horizontal flip; every split is
    resized to the model's input size and normalised per channel.

    Args:
        root: folder that holds (or will hold) ``cifar-10-batches-py/``.
        download: fetch the archive in ``prepare_data`` when the files are absent.
        val_size: images taken from the training set for validation.
        split_seed: seed of that split.
        augment: the random crop and flip of training images (false: none).
        pca_lighting: the paper's PCA colour noise, its std (the paper: 0.1; 0: off),
            with ImageNet's eigenvectors as in the paper; not with ``on_device``.
    """

    def __init__(
        self,
        root: str = "data/cifar10",
        download: bool = True,
        val_size: int = 5000,
        split_seed: int = 0,
        augment: bool = True,
        pca_lighting: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.root, self.download = Path(root), download
        self.val_size, self.split_seed = val_size, split_seed
        self.augment, self.pca_lighting = augment, pca_lighting
        if pca_lighting and self.on_device:
            raise UserError("data.pca_lighting runs in the DataLoader: use data.on_device=false")

    def _missing(self, reason: str) -> UserError:
        return UserError(
            f"CIFAR-10 is not in {self.root} ({reason}). Download "
            f"{datasets.CIFAR10.url} and extract it there (it holds "
            f"{datasets.CIFAR10.base_folder}/), or point data.root at a copy."
        )

    def _dataset(self, train: bool, transform: v2.Transform) -> CIFAR10Folder:
        try:
            return CIFAR10Folder(str(self.root), train=train, transform=transform)
        except RuntimeError as err:
            raise self._missing(str(err)) from None

    def prepare_data(self) -> None:
        if self.download and not files_present(self.root):
            download(lambda: datasets.CIFAR10(str(self.root), download=True), self._missing)

    def preprocessing(self) -> dict:
        size = self.image_size
        return {
            "channels": 3,
            "resize": size,
            "crop": size,
            "mean": list(MEAN),
            "std": list(STD),
            "preset": "cifar",
        }

    def transforms(self, train: bool) -> v2.Compose:
        """PIL image → (randomly cropped and flipped when training) → resized →
        normalised float."""
        if not train:
            return eval_transform(self.preprocessing())
        resize = [v2.Resize(self.image_size, antialias=True)] if self.image_size != 32 else []
        crop_flip = [v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip()]
        return v2.Compose(
            [
                v2.ToImage(),
                *(crop_flip if self.augment else []),
                *resize,
                v2.ToDtype(torch.float32, scale=True),
                *([PCALighting(self.pca_lighting)] if self.pca_lighting else []),
                v2.Normalize(MEAN, STD),
            ]
        )

    def device_tensors(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (N, 3, 32, 32) images and labels, straight from the unpickled batches."""
        dataset = getattr(self, f"{split}_set")
        base, index = (
            (dataset.dataset, dataset.indices) if isinstance(dataset, Subset) else (dataset, None)
        )
        images = torch.from_numpy(base.data).permute(0, 3, 1, 2)
        labels = torch.tensor(base.targets)
        return (images, labels) if index is None else (images[index], labels[index])

    def device_augment(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return random_crop_flip(images, padding=4, generator=generator) if self.augment else images

    def device_prepare(self, images: torch.Tensor) -> torch.Tensor:
        if self.image_size != 32:
            images = F.interpolate(images, size=self.image_size, mode="bilinear", antialias=True)
        mean = torch.tensor(MEAN, device=images.device).view(1, 3, 1, 1)
        std = torch.tensor(STD, device=images.device).view(1, 3, 1, 1)
        return (images - mean) / std

    def build_splits(self) -> tuple[Dataset, Dataset, Dataset]:
        train_full = self._dataset(True, self.transforms(train=True))
        val_full = self._dataset(True, self.transforms(train=False))
        self.class_names = list(train_full.classes)
        if not 0 < self.val_size < len(train_full):
            raise UserError(
                f"data.val_size={self.val_size} must be between 1 and {len(train_full) - 1}"
            )
        seeded = torch.Generator().manual_seed(self.split_seed)
        order = torch.randperm(len(train_full), generator=seeded)
        return (
            Subset(train_full, order[self.val_size :].tolist()),
            Subset(val_full, order[: self.val_size].tolist()),
            self._dataset(False, self.transforms(train=False)),
        )
