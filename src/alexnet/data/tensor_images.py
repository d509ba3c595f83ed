"""Datasets small enough to hold as tensors (digits, Fashion-MNIST): resized once to the
model's size, standardised with the training split's mean and std, no loader workers."""

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, TensorDataset

from alexnet.data.base import ClassificationDataModule
from alexnet.data.on_device import random_crop_flip
from alexnet.data.splits import per_class_holdout, stratified_holdout

Splits = tuple[list[int], list[int], list[int]]


class CroppedAndFlipped(TensorDataset):
    """A training image, randomly cropped from itself padded by ``padding`` and flipped
    half the time (per sample: what the on-device path does per batch)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, padding: int):
        super().__init__(images, labels)
        self.padding = padding

    def __getitem__(self, index):
        image, label = super().__getitem__(index)
        return random_crop_flip(image[None], self.padding)[0], label


class TensorImagesDataModule(ClassificationDataModule):
    """Subclasses ``load`` the whole dataset; this class resizes, standardises, splits.

    Args:
        augment: training images get a random crop of the image padded by an eighth of
            its side and a horizontal flip half the time (the paper's translations and
            reflections, on small images).
    """

    auto_num_workers = 0

    def __init__(self, augment: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.augment = augment
        self.mean_std: tuple[list[float], list[float]] | None = None  # set up once

    def load(self) -> tuple[torch.Tensor, torch.Tensor, list[str], Splits]:
        """(images (N, C, H, W) in [0, 1], labels, class names, (train, val, test) positions)."""
        raise NotImplementedError

    def holdout(
        self, labels: list[int], size: int, keep: int | None = None
    ) -> tuple[list[int], list[int]]:
        """(kept, held): ``size`` positions held out by class, and of the rest at most
        ``keep`` (a stratified fixed-seed subset)."""
        fraction = size / len(labels)
        kept, held = stratified_holdout(labels, fraction, self.split_seed)
        if keep is not None and keep < len(kept):
            chosen, _ = per_class_holdout([labels[i] for i in kept], 1 - keep / len(kept), 0)
            kept = [kept[i] for i in chosen]
        return kept, held

    def build_splits(self) -> tuple[Dataset, Dataset, Dataset]:
        images, labels, self.class_names, (train, val, test) = self.load()
        if images.shape[-1] != self.image_size:
            images = F.interpolate(images, size=self.image_size, mode="bilinear", antialias=True)
        mean = images[train].mean(dim=(0, 2, 3))
        std = images[train].std(dim=(0, 2, 3))
        self.mean_std = (mean.tolist(), std.tolist())
        images = (images - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)
        training = (
            CroppedAndFlipped(images[train], labels[train], self.image_size // 8)
            if self.augment
            else TensorDataset(images[train], labels[train])
        )
        return training, *(TensorDataset(images[idx], labels[idx]) for idx in (val, test))

    def device_tensors(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        return getattr(self, f"{split}_set").tensors  # already resized and standardised

    def device_augment(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if not self.augment:
            return images
        return random_crop_flip(images, self.image_size // 8, generator=generator)

    def preprocessing(self) -> dict:
        """A new image (as the dataset's: bright on dark for digits) → the model's size,
        standardised with the training split's statistics."""
        if self.mean_std is None:
            self.setup()
        (mean, std), size = self.mean_std, self.image_size
        return {
            "channels": len(mean),
            "resize": size,
            "crop": size,
            "mean": mean,
            "std": std,
            "preset": type(self).__name__,
        }
