"""What every classification DataModule shares: loaders, worker defaults, checks."""

import copy
import os
from collections.abc import Callable, Iterable

import lightning as L
import torch
from torch.utils.data import Dataset, Subset

from alexnet.data.loading.sampling import (
    KeyedSamples,
    ResumableLoader,
    ResumesMidEpoch,
    ShardSampler,
)
from alexnet.data.loading.splits import per_class_holdout
from alexnet.data.loading.transforms import TTAS
from alexnet.errors import UserError
from alexnet.processes import start_worker

#: ``data.normalization``: (x − mean) / std on the [0, 1] scale, or the paper's raw
#: 0–255 values less the training split's per-channel mean (section 2).
NORMALIZATIONS = ("standard", "paper")


def download(fetch: Callable[[], object], missing: Callable[[str], UserError]) -> None:
    """Run a torchvision download; a network failure becomes the dataset's one-line
    "where to put the files" error."""
    try:
        fetch()
    except OSError as err:  # URLError, connection refused, DNS failure, ...
        raise missing(f"download failed: {err}") from None
    except RuntimeError as err:  # MNIST's: "Error downloading <file>" after every mirror
        if not str(err).startswith("Error downloading"):
            raise
        raise missing(f"download failed: {' '.join(str(err).split())}") from None


def default_num_workers() -> int:
    """One loader worker per CPU core the process may use, at most 8."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(8, cores or 1)


class ClassificationDataModule(L.LightningDataModule):
    """Base class: subclasses set ``class_names`` and build the three splits in
    ``build_splits``; this class checks them and turns them into loaders.

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
        normalization: ``standard`` — ``(x − mean) / std`` per channel on the [0, 1]
            scale — or ``paper``: the raw 0–255 pixel values less the training split's
            per-channel mean, not divided by anything (the scale the paper's LRN
            constants and initialisation were set for; see alexnet.models.alexnet).
            Either way it is part of the checkpoint's preprocessing (``paper`` is a
            std of 1/255 there), so eval, predict and export apply it.
        train_eval_size: also test about this many training images (a fixed stratified
            subset, rounded per class) without augmentation, in eval mode, from the
            tested checkpoint: ``train_eval/acc`` and ``train_eval/loss`` (0: not).
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
        normalization: str = "standard",
        train_eval_size: int = 0,
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
        if normalization not in NORMALIZATIONS:
            raise UserError(
                f"data.normalization={normalization!r} is not one of {', '.join(NORMALIZATIONS)}"
            )
        if train_eval_size < 0:
            raise UserError(f"data.train_eval_size={train_eval_size} must be >= 0")
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
        self.normalization, self.train_eval_size = normalization, train_eval_size
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None
        self.class_names: list[str] = []
        self._fingerprint: dict | None = None
        self._train_loader: ResumesMidEpoch | None = None
        self._train_state: dict | None = None  # a restored checkpoint's, not yet given

    def preprocessing(self) -> dict:
        """How a new image becomes model input, as the evaluation splits are prepared:
        ``channels``, ``resize``, ``crop``, ``mean``, ``std``, ``preset`` (saved in
        checkpoints; see alexnet.checkpoints.Preprocessing)."""
        raise NotImplementedError

    def build_splits(self) -> tuple[Dataset, Dataset, Dataset]:
        """The train, val and test datasets, each yielding (image tensor, label)."""
        raise NotImplementedError

    def content_digest(self) -> str:
        """A digest of the images and labels of the three splits (set up)."""
        raise NotImplementedError

    def fingerprint(self) -> dict:
        """The data this module reads: its class names in order, the images of each
        split and the digest of their contents (set up first; computed once)."""
        if self._fingerprint is None:
            self.setup()
            splits = {"train": self.train_set, "val": self.val_set, "test": self.test_set}
            self._fingerprint = {
                "classes": list(self.class_names),
                "counts": {name: len(split) for name, split in splits.items()},
                "digest": self.content_digest(),
            }
        return self._fingerprint

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

    def normalised(self, mean: list[float], std: list[float]) -> tuple[list, list]:
        """The (mean, std) to normalise with, given the data's own: ``paper`` keeps the
        mean and replaces the std by 1/255 (the raw 0–255 scale)."""
        if self.normalization == "paper":
            return list(mean), [1 / 255] * len(mean)
        return list(mean), list(std)

    def unaugmented(self, split: str) -> Dataset:
        """The ``split`` ("train", "val" or "test") through the validation pipeline: the
        training images without their random augmentation, for features or predictions."""
        dataset = {"train": self.train_set, "val": self.val_set, "test": self.test_set}[split]
        if split != "train":
            return dataset
        val = getattr(self.val_set, "dataset", self.val_set)  # through a Subset
        if isinstance(dataset, Subset):
            inner = copy.copy(dataset.dataset)
            inner.transform = val.transform
            return Subset(inner, dataset.indices)
        plain = copy.copy(dataset)
        plain.transform = val.transform
        return plain

    def train_eval_indices(self) -> list[int]:
        """The training images that ``train_eval_size`` tests: a fixed stratified
        subset (the same in every run of the same training split)."""
        labels = self.train_labels()
        if self.train_eval_size >= len(labels):
            return list(range(len(labels)))
        chosen, _ = per_class_holdout(labels, 1 - self.train_eval_size / len(labels), 0)
        return sorted(chosen)

    def train_labels(self) -> list[int]:
        """The label of every training image, in order."""
        raise NotImplementedError

    def sampler(
        self, dataset: Dataset, training: bool, seed: int, rank: int, world_size: int
    ) -> ShardSampler:
        """This process's order of ``dataset``'s images each epoch."""
        return ShardSampler(len(dataset), training, seed, rank, world_size)

    def batches(
        self, dataset: Dataset, sampler: ShardSampler, training: bool
    ) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        """Batches of ``dataset`` in ``sampler``'s order: a DataLoader whose samples'
        augmentation is keyed by (seed, epoch, index), resumable mid-epoch."""
        return ResumableLoader(
            KeyedSamples(dataset, sampler.seed, training=training),
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            persistent_workers=self.persistent_workers,
            generator=torch.Generator().manual_seed(sampler.seed),  # not the global state
            worker_init_fn=start_worker,  # (samples draw from their own keyed seed)
        )

    def evaluation_batches(self, split: str) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        """Every image of ``split`` once, through the evaluation pipeline (no
        augmentation), as model-ready (images, labels) batches."""
        return self._loader_of(self.unaugmented(split), training=False)

    def _split_loader(self, split: str) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        """The loader Lightning uses for ``split``."""
        return self._loader_of(getattr(self, f"{split}_set"), training=split == "train")

    def _loader_of(
        self, dataset: Dataset, training: bool
    ) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        """Batches of ``dataset``: resumable mid-epoch when training, the same number
        of batches on every DDP process, evaluation images counted once."""
        trainer = self.trainer
        rank, world_size = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        seed = int(os.environ.get("PL_GLOBAL_SEED", 0))  # lightning.seed_everything's
        sampler = self.sampler(dataset, training, seed, rank, world_size)
        return self.batches(dataset, sampler, training)

    def train_dataloader(self):
        loader = self._split_loader("train")
        if self._train_state is not None:
            loader.load_state_dict(self._train_state)
            self._train_state = None
        self._train_loader = loader
        return loader

    def state_dict(self) -> dict:
        """The training loader's place in its epoch, which Lightning saves in checkpoints
        (as it saves the loader's own state: a copy, for the case below)."""
        return {"train_loader": self._train_loader.state_dict()} if self._train_loader else {}

    def load_state_dict(self, state: dict) -> None:
        """A checkpoint's place for the training loader, given to it now or when it is
        made. Lightning gives a stateful loader its state itself, except when the loader
        was made before the checkpoint was read — as ``trainer.estimated_stepping_batches``
        in ``configure_optimizers`` does (Lightning issue #20550; tests/test_adapters.py)."""
        self._train_state = state.get("train_loader")
        if self._train_state is not None and self._train_loader is not None:
            self._train_loader.load_state_dict(self._train_state)
            self._train_state = None

    def val_dataloader(self):
        return self._split_loader("val")

    def test_dataloader(self):
        """The test split, and with ``train_eval_size`` the fixed training subset."""
        test = self._split_loader("test")
        if not self.train_eval_size:
            return test
        subset = Subset(self.unaugmented("train"), self.train_eval_indices())
        return [test, self._loader_of(subset, training=False)]
