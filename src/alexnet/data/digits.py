"""scikit-learn's bundled handwritten digits: 1,797 real 8×8 grayscale images, 10
classes, installed with the package, so the default run needs no network."""

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch.utils.data import Dataset, TensorDataset

from alexnet.data.base import ClassificationDataModule
from alexnet.data.splits import stratified_split


class DigitsDataModule(ClassificationDataModule):
    """The digits, upsampled to the model's input size and standardised with the
    training split's mean and std; held in memory as tensors (no loader workers).

    Args:
        val_fraction, test_fraction: shares of the images held out, stratified by class.
        split_seed: seed of the split (fixed, so every run and rank sees the same one).
    """

    auto_num_workers = 0

    def __init__(
        self,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        split_seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.split_seed = split_seed
        self.mean_std: tuple[float, float] | None = None  # of the training split, set up once

    def _images_and_splits(self):
        """All digits at the model's size in [0, 1] (ink bright), labels, split indices."""
        digits = load_digits()
        self.class_names = [str(name) for name in digits.target_names]
        images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
        images = F.interpolate(images, size=self.image_size, mode="bilinear", antialias=True)
        labels = torch.tensor(digits.target, dtype=torch.long)
        splits = stratified_split(
            digits.target.tolist(), self.val_fraction, self.test_fraction, self.split_seed
        )
        return images, labels, splits

    def build_splits(self) -> tuple[Dataset, Dataset, Dataset]:
        images, labels, (train, val, test) = self._images_and_splits()
        self.mean_std = images[train].mean().item(), images[train].std().item()
        images = (images - self.mean_std[0]) / self.mean_std[1]
        return tuple(TensorDataset(images[idx], labels[idx]) for idx in (train, val, test))

    def device_tensors(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        return getattr(self, f"{split}_set").tensors  # already resized and standardised

    def preprocessing(self) -> dict:
        """A digit image (bright ink on a dark background, like the dataset) →
        grayscale, the model's size, standardised with the training split's statistics."""
        if self.mean_std is None:
            self.setup()
        (mean, std), size = self.mean_std, self.image_size
        return {
            "channels": 1,
            "resize": size,
            "crop": size,
            "mean": [mean],
            "std": [std],
            "preset": "digits",
        }
