"""scikit-learn's bundled handwritten digits: 1,797 real 8×8 grayscale images, 10
classes, installed with the package, so the default run needs no network."""

import torch

from alexnet.data.datasets.tensor_datamodule import Splits, TensorImagesDataModule
from alexnet.data.loading.splits import stratified_split


class DigitsDataModule(TensorImagesDataModule):
    """The digits (ink bright on a dark background), upsampled to the model's input size
    per batch and normalised with the training split's statistics.

    Args:
        val_fraction, test_fraction: shares of the images held out, stratified by class.
        split_seed: seed of the split (fixed, so every run and rank sees the same one).
    """

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

    def load(self) -> tuple[torch.Tensor, torch.Tensor, list[str], Splits]:
        # scikit-learn (with SciPy, about 0.9 s) is imported by the runs that use it
        from sklearn.datasets import load_digits

        digits = load_digits()
        # 17 grey levels (0–16), stored on the 0–255 scale as every dataset here
        images = (torch.tensor(digits.images).unsqueeze(1) * 255 / 16).round().to(torch.uint8)
        labels = torch.tensor(digits.target, dtype=torch.long)
        splits = stratified_split(
            digits.target.tolist(), self.val_fraction, self.test_fraction, self.split_seed
        )
        return images, labels, [str(name) for name in digits.target_names], splits
