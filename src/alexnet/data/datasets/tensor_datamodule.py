"""Datasets small enough to hold whole (digits, Fashion-MNIST, CIFAR-10): kept as uint8
at their native size, and brought to the model's size per batch, on the training
device. Fashion-MNIST at the paper's 227 px would be 70,000 × 227² float32 values,
14 GB; natively it is 55 MB, and a batch of 128 at 227 px is 26 MB."""

import hashlib

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, Subset, TensorDataset

from alexnet.data.datasets.base import ClassificationDataModule
from alexnet.data.loading.on_device import DeviceBatches, TensorReader, random_crop_flip
from alexnet.data.loading.sampling import ShardSampler
from alexnet.data.loading.splits import per_class_holdout, stratified_holdout
from alexnet.data.loading.transforms import lighting_offsets
from alexnet.errors import UserError

Splits = tuple[list[int], list[int], list[int]]

#: A split whose batches draw nothing at random is prepared whole, once (not batch by
#: batch), when it takes at most this many bytes at the model's size.
PREPARED_ONCE_BYTES = 1 << 30


def already_prepared(images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """The batch pipeline of a split prepared whole: nothing left to do."""
    return images


def split_tensors(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """(images, labels) of a TensorDataset or of a Subset of one."""
    if isinstance(dataset, Subset):
        images, labels = split_tensors(dataset.dataset)
        index = torch.as_tensor(dataset.indices, dtype=torch.long)
        return images[index], labels[index]
    return dataset.tensors


class TensorImagesDataModule(ClassificationDataModule):
    """Subclasses ``load`` the whole dataset as uint8; this class splits it, measures
    the training split's statistics and prepares every batch:

    raw uint8 batch (native size) → [training: random crop and flip] → float →
    [training: PCA lighting] → resized to ``image_size`` → normalised.

    The crop is taken from the image extended by an eighth of its side with copies of
    its own edge pixels (no frame), before normalisation; evaluation resizes only.

    Args:
        augment: training images get the random crop and a horizontal flip half the
            time (the paper's translations and reflections, on small images).
        pca_lighting: the paper's PCA colour noise, its std (the paper: 0.1; 0: off),
            with ImageNet's eigenvectors as in the paper; colour images only.
        on_device: hold the whole dataset on the training device (otherwise in host
            memory; each batch is then copied to the device as it is, uint8 and native).
    """

    auto_num_workers = 0

    def __init__(
        self,
        augment: bool = False,
        pca_lighting: float = 0.0,
        on_device: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if pca_lighting < 0:
            raise UserError(f"data.pca_lighting={pca_lighting} must be >= 0")
        self.augment, self.pca_lighting, self.on_device = augment, pca_lighting, on_device
        self.mean_std: tuple[list[float], list[float]] | None = None  # set up once

    def load(self) -> tuple[torch.Tensor, torch.Tensor, list[str], Splits]:
        """(uint8 images (N, C, H, W), labels, class names, (train, val, test) positions)."""
        raise NotImplementedError

    def holdout(
        self, labels: list[int], size: int, keep: int | None = None
    ) -> tuple[list[int], list[int]]:
        """(kept, held): ``size`` positions held out by class, and of the rest at most
        ``keep`` (a stratified subset); both drawn with ``split_seed``."""
        fraction = size / len(labels)
        kept, held = stratified_holdout(labels, fraction, self.split_seed, "data.val_size")
        if keep is not None and keep < len(kept):
            chosen, _ = per_class_holdout(
                [labels[i] for i in kept], 1 - keep / len(kept), self.split_seed
            )
            kept = [kept[i] for i in chosen]
        return kept, held

    def build_splits(self) -> tuple[Dataset, Dataset, Dataset]:
        images, labels, self.class_names, (train, val, test) = self.load()
        if images.dtype != torch.uint8:
            raise TypeError(f"{type(self).__name__}.load must give uint8 images")
        if self.pca_lighting and images.shape[1] != 3:
            raise UserError("data.pca_lighting needs colour images (its eigenvectors are RGB)")
        pixels = images[train].transpose(0, 1).flatten(1).double() / 255
        self.mean_std = self.normalised(pixels.mean(1).tolist(), pixels.std(1).tolist())
        return tuple(TensorDataset(images[idx], labels[idx]) for idx in (train, val, test))

    def content_digest(self) -> str:
        """The splits' pixels and labels, hashed (about 1 GB/s)."""
        digest = hashlib.blake2b(digest_size=16)
        for split in (self.train_set, self.val_set, self.test_set):
            for tensor in split.tensors:
                digest.update(tensor.contiguous().numpy())
        return digest.hexdigest()

    def train_labels(self) -> list[int]:
        return self.train_set.tensors[1].tolist()

    def unaugmented(self, split: str) -> Dataset:
        return getattr(self, f"{split}_set")  # augmentation is the pipeline's, by batch

    def batches(self, dataset: Dataset, sampler: ShardSampler, training: bool) -> DeviceBatches:
        """Batches sliced from the split's tensors, prepared on the training device; a
        split whose batches draw nothing at random (evaluation; training without
        augmentation) is prepared whole, once, when it takes at most
        PREPARED_ONCE_BYTES at the model's size."""
        trainer = self.trainer
        device = trainer.strategy.root_device if trainer else torch.device("cpu")
        images, labels = split_tensors(dataset)
        if self.on_device:
            images, labels = images.to(device), labels.to(device)
        pipeline = self.pipeline
        random = training and (self.augment or self.pca_lighting)
        prepared_bytes = 4 * len(images) * images.shape[1] * self.image_size**2  # float32
        if not random and prepared_bytes <= PREPARED_ONCE_BYTES:
            images = torch.cat([self.pipeline(chunk, None) for chunk in images.split(1024)])
            pipeline = already_prepared
        return DeviceBatches(
            TensorReader(images, labels), self.batch_size, sampler, pipeline, training, device
        )

    def pipeline(self, images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """A raw uint8 batch → model input; ``generator`` (training) draws the
        augmentation."""
        training = generator is not None
        if training and self.augment:
            images = random_crop_flip(images, max(images.shape[-1] // 8, 1), generator)
        x = images.float()
        if training and self.pca_lighting:
            alpha = torch.randn(len(x), 3, device=x.device, generator=generator)
            x = x + 255 * lighting_offsets(alpha * self.pca_lighting)[:, :, None, None]
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = F.interpolate(x, size=self.image_size, mode="bilinear", antialias=True)
        mean, std = (torch.tensor(v, device=x.device).view(1, -1, 1, 1) for v in self.mean_std)
        return (x - 255 * mean) / (255 * std)

    def preprocessing(self) -> dict:
        """A new image (as the dataset's: bright on dark for digits) → the model's size,
        normalised with the training split's statistics."""
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
