"""What every classification DataModule shares: loaders, worker defaults, checks."""

import copy
import os
from collections.abc import Callable

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from alexnet.data.on_device import DeviceBatches
from alexnet.data.sampling import KeyedSamples, ResumableLoader, ShardSampler
from alexnet.data.transforms import TTAS
from alexnet.errors import UserError


def download(fetch: Callable[[], object], missing: Callable[[str], UserError]) -> None:
    """Run a torchvision download; a network failure becomes the dataset's one-line
    "where to put the files" error."""
    try:
        fetch()
    except OSError as err:  # URLError, connection refused, DNS failure, ...
        raise missing(f"download failed: {err}") from None


def default_num_workers() -> int:
    """One loader worker per CPU core the process may use, at most 8."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(8, cores or 1)


class ClassificationDataModule(L.LightningDataModule):
    """Base class: subclasses set ``class_names`` and build the three splits in
    ``build_splits``; this class checks them and turns them into DataLoaders.

    Args:
        num_classes: classes the config declares, checked against the dataset's; None:
            the dataset's decide (the model is built with as many).
        in_channels: image channels the config declares.
        batch_size: images per batch (per device under DDP).
        num_workers: loader processes; ``None`` picks a default for the dataset.
        pin_memory: page-locked batches for faster host-to-GPU copies.
        persistent_workers: keep workers alive between epochs (when num_workers > 0).
        image_size: the square size the model wants; images are resized to it.
        tta: test-time views: ``center`` or ``ten_crop`` (the paper's 10 patches).
        on_device: hold the whole dataset on the training device and batch and augment
            it there, without a DataLoader (in-memory datasets: digits, cifar10).
    """

    #: num_workers when the config leaves it unset; in-memory datasets override with 0.
    auto_num_workers: int | None = None
    #: whether the test pipeline can produce the paper's ten crops.
    supports_ten_crop = False

    def __init__(
        self,
        num_classes: int | None = None,
        in_channels: int = 3,
        batch_size: int = 128,
        num_workers: int | None = None,
        pin_memory: bool = True,
        persistent_workers: bool = True,
        image_size: int = 224,
        tta: str = "center",
        on_device: bool = False,
    ):
        super().__init__()
        if batch_size <= 0:
            raise UserError(f"data.batch_size={batch_size} must be a positive integer")
        if num_workers is not None and num_workers < 0:
            raise UserError(f"data.num_workers={num_workers} must be >= 0 (or null for auto)")
        if image_size <= 0:
            raise UserError(f"image_size={image_size} must be positive")
        if tta not in TTAS:
            raise UserError(f"tta={tta!r} is not one of {', '.join(TTAS)}")
        if tta == "ten_crop" and not self.supports_ten_crop:
            raise UserError(
                "tta=ten_crop needs a dataset read from image files (caltech101, imagenette, "
                "imagenet_subset, image_folder)"
            )
        self.num_classes, self.in_channels = num_classes, in_channels
        self.batch_size = batch_size
        if num_workers is None:
            num_workers = (
                default_num_workers() if self.auto_num_workers is None else self.auto_num_workers
            )
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.persistent_workers = persistent_workers and num_workers > 0
        self.image_size, self.tta = image_size, tta
        if on_device and type(self).device_tensors is ClassificationDataModule.device_tensors:
            raise UserError(
                f"data.on_device=true is for in-memory datasets, not {type(self).__name__}"
            )
        self.on_device = on_device
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None
        self.class_names: list[str] = []

    def preprocessing(self) -> dict:
        """How a new image becomes model input, as the evaluation splits are prepared:
        ``channels``, ``resize``, ``crop``, ``mean``, ``std``, ``preset`` (saved in
        checkpoints; see alexnet.checkpoints.Preprocessing)."""
        raise NotImplementedError

    def build_splits(self) -> tuple[Dataset, Dataset, Dataset]:
        """The train, val and test datasets, each yielding (image tensor, label)."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        self.train_set, self.val_set, self.test_set = self.build_splits()
        if self.num_classes is None:
            self.num_classes = len(self.class_names)
        elif len(self.class_names) != self.num_classes:
            raise UserError(
                f"data.num_classes={self.num_classes} but the dataset has "
                f"{len(self.class_names)} classes: set data.num_classes={len(self.class_names)}"
            )

    def loader(self, dataset: Dataset | None, shuffle: bool = False) -> DataLoader:
        if dataset is None:
            raise RuntimeError("call setup() before asking for a DataLoader")
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            persistent_workers=self.persistent_workers,
        )

    def unaugmented(self, split: str) -> Dataset:
        """The ``split`` ("train", "val" or "test") through the validation pipeline: the
        training images without their random augmentation, for features or predictions."""
        dataset = {"train": self.train_set, "val": self.val_set, "test": self.test_set}[split]
        if split != "train":
            return dataset
        val = getattr(self.val_set, "dataset", self.val_set)  # through a Subset
        if not hasattr(val, "transform"):
            return dataset  # tensors in memory: nothing random to remove
        if isinstance(dataset, Subset):
            inner = copy.copy(dataset.dataset)
            inner.transform = val.transform
            return Subset(inner, dataset.indices)
        plain = copy.copy(dataset)
        plain.transform = val.transform
        return plain

    def device_tensors(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(images, labels) of a whole split as tensors, for ``on_device``."""
        raise NotImplementedError

    def device_prepare(self, images: torch.Tensor) -> torch.Tensor:
        """The on-device batch pipeline of every split (float images in, model input out)."""
        return images

    def device_augment(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The on-device training augmentation of a batch (drawing from ``generator``)."""
        return images

    def _split_loader(self, split: str) -> ResumableLoader | DeviceBatches:
        """The loader Lightning uses for ``split``: resumable mid-epoch, the same number
        of batches on every DDP process, evaluation images counted once."""
        train = split == "train"
        trainer = self.trainer
        rank, world_size = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        seed = int(os.environ.get("PL_GLOBAL_SEED", 0))  # lightning.seed_everything's
        dataset = getattr(self, f"{split}_set")
        sampler = ShardSampler(len(dataset), train, seed, rank, world_size)
        batches_done = self._batches_done if train and trainer else lambda: 0
        if self.on_device:
            device = trainer.strategy.root_device if trainer else torch.device("cpu")
            images, labels = self.device_tensors(split)
            return DeviceBatches(
                images.to(device),
                labels.to(device),
                self.batch_size,
                sampler,
                prepare=self.device_prepare,
                augment=self.device_augment if train else None,
                batches_done=batches_done,
            )
        return ResumableLoader(
            KeyedSamples(dataset, seed, training=train),
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            persistent_workers=self.persistent_workers,
            generator=torch.Generator().manual_seed(seed),  # not the global random state
            batches_done=batches_done,
        )

    def _batches_done(self) -> int:
        """The training batches of the current epoch the trainer has done (restored from a
        checkpoint when resuming, 0 when an epoch starts)."""
        return self.trainer.fit_loop.epoch_loop.batch_progress.current.ready

    def train_dataloader(self) -> DataLoader | DeviceBatches:
        return self._split_loader("train")

    def val_dataloader(self) -> DataLoader | DeviceBatches:
        return self._split_loader("val")

    def test_dataloader(self) -> DataLoader | DeviceBatches:
        return self._split_loader("test")
