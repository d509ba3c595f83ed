"""The base of every DataModule that reads image files in class folders."""

import hashlib
import json
import multiprocessing
import os
import statistics
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Annotated

import pydantic
import torch
from torch.utils.data import Dataset, Subset

from alexnet.atomic import write_atomically
from alexnet.console import inform, warn
from alexnet.data.datasets.base import ClassificationDataModule
from alexnet.data.loading.auto_preset import channel_statistics, choose_preset, evenly_spaced
from alexnet.data.loading.on_device import DeviceBatches, SquaresPipeline
from alexnet.data.loading.sampling import ShardOrderSampler, ShardSampler
from alexnet.data.loading.splits import stratified_holdout
from alexnet.data.loading.transforms import (
    PRESETS,
    eval_transform,
    image_files_recipe,
    resize_for,
    train_transform,
)
from alexnet.data.storage.files import (
    MAX_PIXELS,
    FolderScan,
    ImageFiles,
    Sample,
    header_size,
    read_headers,
    scan_class_folders,
    shown,
)
from alexnet.data.storage.header_cache import cached_headers
from alexnet.data.storage.prepared import (
    DATASET_INFO,
    PreparedSplit,
    ShardStore,
    digest,
    prepare_split,
    prepared_folder,
)
from alexnet.errors import UserError
from alexnet.models.registry import IMAGENET_MEAN, IMAGENET_STD

Splits = tuple[list[Sample], list[Sample], list[Sample]]
SPLITS = ("train", "val", "test")
SQUARE_PRESETS = ("paper", "small")  # the presets a prepared square supports
CONTENT_SAMPLES = 64  # files whose bytes the fingerprint reads


class PreparedCopy(pydantic.BaseModel):
    """``data.prepared``: train from a copy prepared once at the paper's resolution
    (alexnet.data.storage.prepared: made on first use, or by prepare.py), augmented by
    whole batches on the training device; presets ``paper`` and ``small``.

    Args:
        use: train from the copy (made where it is missing).
        size: the squares' side (null: the per-image pipeline's, crop·256/224 — 256
            for a 224 crop — or the crop for ``small``).
        dir: where copies are written (under the data directory).
        uri: read a copy from here instead of the image files: the folder prepare.py
            printed, on a shared path or object storage (``s3://bucket/imagenet100``);
            its shards are fetched into the data's ``cache_dir``.
        shard_images: images per shard (each process of a run reads whole shards).
        jpeg_quality: store the squares as JPEG files of this quality (about a tenth of
            the raw size, for datasets as large as ImageNet; decoded when read, on the
            GPU when training on one); null: raw uint8.
        timeout_s: how long object storage may take to answer, per try (two tries).
    """

    model_config = pydantic.ConfigDict(extra="forbid", strict=True, frozen=True)
    use: bool = False
    size: Annotated[int, pydantic.Field(ge=1)] | None = None
    dir: str | None = None
    uri: str | None = None
    shard_images: Annotated[int, pydantic.Field(ge=1)] = 1024
    jpeg_quality: Annotated[int, pydantic.Field(ge=1, le=95)] | None = None
    timeout_s: Annotated[float, pydantic.Field(gt=0)] = 30.0


class ImageFilesDataModule(ClassificationDataModule):
    """Subclasses find the (path, label) samples of each split in ``find_splits``; this
    class checks them, reports skipped files and applies the image pipeline.

    Args:
        root: where the dataset is (or will be downloaded).
        preset: ``auto``, ``paper``, ``modern`` or ``small`` training pipeline (see
            alexnet.data.loading.transforms and alexnet.data.loading.auto_preset).
        val_fraction: share of each class's training images held out for validation.
        split_seed: seed of every split (fixed: the same on every machine and rank).
        max_per_class: use at most this many training images of each class (null = all).
        check_files: read every image's header once in ``setup`` to skip unreadable files.
        max_image_pixels: images of more pixels are skipped (decompression bombs).
        cache_dir: where measured statistics and the headers read are cached (the data
            directory's cache; null: measured and read every time). Never the images'
            own folder. A file whose size or modification time changed is read again.
        prepared: the prepared copy's options (:class:`PreparedCopy`).
    """

    supports_ten_crop = True

    def __init__(
        self,
        root: str,
        preset: str = "paper",
        val_fraction: float = 0.1,
        split_seed: int = 0,
        max_per_class: int | None = None,
        check_files: bool = True,
        max_image_pixels: int = MAX_PIXELS,
        cache_dir: str | None = None,
        prepared: PreparedCopy | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if preset not in PRESETS:
            raise UserError(f"data.preset={preset!r} is not one of {', '.join(PRESETS)}")
        self.copy = PreparedCopy.model_validate(prepared or {})
        self.prepared = self.copy.use or bool(self.copy.uri)
        if self.prepared and not self.copy.dir and not self.copy.uri:
            raise UserError("data.prepared.use=true needs data.prepared.dir (where to write it)")
        self.square: int | None = self.copy.size  # the copy's side, once known
        self.prepared_location: Path | None = None  # set once the copy is complete
        self.root, self.preset = Path(root), preset
        self.val_fraction, self.split_seed = val_fraction, split_seed
        self.max_per_class, self.check_files = max_per_class, check_files
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.max_image_pixels = max_image_pixels
        self.found = FolderScan()  # what the scans skipped and ignored
        self.reported = False
        self.mean, self.std = IMAGENET_MEAN, IMAGENET_STD  # auto: the training split's

    def find_splits(self) -> Splits:
        """The (train, val, test) samples; labels index ``self.class_names``."""
        raise NotImplementedError

    def scan(
        self, folder: Path, class_folders: list[str], max_per_class: int | None = None
    ) -> list[Sample]:
        """The samples of ``folder/<class folder>/``, labelled by position in
        ``class_folders``; skipped files noted."""
        headers = None
        if self.check_files:
            headers = partial(read_headers, max_pixels=self.max_image_pixels)
            if self.cache_dir:
                headers = cached_headers(headers, self.cache_dir, self.max_image_pixels)
        found = scan_class_folders(folder, class_folders, max_per_class, headers)
        self.found.add(found)
        return found.samples

    def hold_out_val(self, samples: list[Sample]) -> tuple[list[Sample], list[Sample]]:
        """(train, val): ``val_fraction`` of each class moved to validation."""
        labels = [y for _, y in samples]
        kept, held = stratified_holdout(
            labels, self.val_fraction, self.split_seed, "data.val_fraction"
        )
        return [samples[i] for i in kept], [samples[i] for i in held]

    def preprocessing(self) -> dict:
        recipe = image_files_recipe(self.image_size, self.preset, self.mean, self.std)
        return {**recipe, "resize": self.square_size()} if self.prepared else recipe

    def square_size(self) -> int:
        """The side of the prepared squares."""
        if self.square:
            return self.square
        return self.image_size if self.preset == "small" else resize_for(self.image_size)

    def checked_splits(self) -> Splits:
        """The splits' samples, none empty, with the preset and statistics settled."""
        self.found = FolderScan()
        train, val, test = self.find_splits()
        for name, samples in (("train", train), ("val", val), ("test", test)):
            if not samples:
                raise UserError(
                    f"the {name} split of {self.root} has no images: validation picks the "
                    f"best checkpoint every epoch; give data.{name}_fraction above 0, or "
                    f"{name}/ class folders"
                    if name != "train"
                    else f"the training split of {self.root} has no images"
                )
        if self.preset == "auto":
            self._settle_auto([path for path, _ in train])
        if self.normalization == "paper":  # the training split's own mean, on 0–255
            mean, _ = channel_statistics([p for p, _ in train], self.image_size, self.cache_dir)
            self.mean, self.std = self.normalised(mean, self.std)
        return train, val, test

    def prepare_data(self) -> None:
        """With ``prepared=true``: the prepared copy, made now if it is not complete
        (Lightning runs this on one process per node before the others set up)."""
        if self.prepared and not self.copy.uri:
            self.prepare(self.checked_splits())

    def prepare(self, splits: Splits) -> Path:
        """The folder of the prepared copy of ``splits``, written where missing."""
        if self.preset not in SQUARE_PRESETS:
            raise UserError(
                f"data.prepared.use=true supports the presets {', '.join(SQUARE_PRESETS)}; "
                f"{self.preset}'s RandomResizedCrop needs the whole image: set data.preset=paper"
            )
        size = self.square_size()
        if size < self.image_size:
            raise UserError(f"data.prepared.size={size} is less than the crop, {self.image_size}")
        kind = type(self).__name__.removesuffix("DataModule").lower()
        name, quality = f"{kind}-{self.root.name}", self.copy.jpeg_quality
        folder = prepared_folder(Path(self.copy.dir), name, self.root, size, quality)
        workers = self.num_workers or 1
        for split, samples in zip(SPLITS, splits, strict=True):
            description = f"preparing {split} ({size} px)"
            prepare_split(
                samples, folder / split, size, self.copy.shard_images,
                self.max_image_pixels, workers, description, quality,
            )  # fmt: skip
        about = {"classes": self.class_names, "preset": self.preset, "size": size}
        about |= {"mean": self.mean, "std": self.std, "source": str(self.root.resolve())}
        info = json.dumps(about).encode()
        known = folder / DATASET_INFO
        if not known.exists() or known.read_bytes() != info:  # every setup comes through here
            write_atomically(known, lambda file: file.write(info))
        self.prepared_location = folder
        return folder

    def prepared_splits(self) -> tuple[Dataset, Dataset, Dataset]:
        """The splits read from the prepared copy (made first where it is missing)."""
        location = self.copy.uri or str(self.prepare(self.checked_splits()))
        cache = self.cache_dir / "remote" if self.cache_dir else None
        timeout = self.copy.timeout_s
        text = ShardStore(location, cache, timeout_s=timeout).read_text(DATASET_INFO)
        if text is None:
            raise UserError(f"no prepared copy at {location} ({DATASET_INFO} is missing)")
        about = json.loads(text)
        if self.copy.size and about["size"] != self.copy.size:
            raise UserError(
                f"{location} was prepared at {about['size']} px, not "
                f"data.prepared.size={self.copy.size}"
            )
        self.class_names, self.preset = about["classes"], about["preset"]
        self.mean, self.std, self.square = about["mean"], about["std"], about["size"]
        train, val, test = (
            PreparedSplit(
                ShardStore(f"{location.rstrip('/')}/{name}", cache, timeout_s=timeout), views
            )
            for name, views in zip(SPLITS, ("center", "center", self.tta), strict=True)
        )
        inform(f"data: {len(train)} training images prepared at {train.size} px in {location}")
        return train, val, test

    def build_splits(self) -> tuple[Dataset, Dataset, Dataset]:
        if self.prepared:
            return self.prepared_splits()
        train, val, test = self.checked_splits()
        recipe, limit = self.preprocessing(), self.max_image_pixels
        return (
            ImageFiles(
                train, train_transform(self.preset, self.image_size, self.mean, self.std), limit
            ),
            ImageFiles(val, eval_transform(recipe), limit),
            ImageFiles(test, eval_transform(recipe, self.tta), limit),
        )

    def content_digest(self) -> str:
        """The files of the splits (their paths below ``root``, labels and sizes) and the
        bytes of up to ``CONTENT_SAMPLES`` of them spread over the list (other pictures
        under the same names; reading them all would cost a pass over the data), or a
        prepared copy's sources (the digests its manifests hold)."""
        splits = (self.train_set, self.val_set, self.test_set)
        if self.prepared:
            return digest([split.source for split in splits])
        samples = [sample for split in splits for sample in split.samples]
        sampled = hashlib.sha256()
        for path, _ in evenly_spaced(samples, CONTENT_SAMPLES):
            sampled.update(Path(path).read_bytes())
        listed = [(shown(os.path.relpath(p, self.root)), label, os.stat(p).st_size)
                  for p, label in samples]  # fmt: skip
        return digest([listed, [len(split.samples) for split in splits], sampled.hexdigest()])

    def train_labels(self) -> list[int]:
        if self.prepared:
            return self.train_set.labels.tolist()
        return [label for _, label in self.train_set.samples]

    def unaugmented(self, split: str) -> Dataset:
        if self.prepared:  # augmentation is the pipeline's, by batch
            return getattr(self, f"{split}_set")
        return super().unaugmented(split)

    def sampler(self, dataset: Dataset, training: bool, seed: int, rank: int, world_size: int):
        """Prepared splits: each process reads whole shards of its own."""
        if isinstance(dataset, PreparedSplit) and dataset.indices is None:
            return ShardOrderSampler(dataset.shard_sizes(), training, seed, rank, world_size)
        return super().sampler(dataset, training, seed, rank, world_size)

    def batches(
        self, dataset: Dataset, sampler: ShardSampler, training: bool
    ) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        """Prepared splits: raw batches read by the loader workers, augmented on the
        training device."""
        if not self.prepared:
            return super().batches(dataset, sampler, training)
        if isinstance(dataset, Subset):
            dataset = dataset.dataset.restricted(dataset.indices)
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        dataset.decode_here = device.type != "cuda"  # JPEG shards: nvJPEG on the GPU
        pipeline = SquaresPipeline(self.preset, self.image_size, self.mean, self.std, dataset.views)
        start = None
        if dataset.store.remote:
            # fsspec's object-storage clients are not safe to fork once used (fsspec/s3fs
            # #914), and this process has read the manifests: a worker forked from it
            # hung now and then before its first read. Forkserver workers start from a
            # clean process, which has imported what they read with once.
            multiprocessing.set_forkserver_preload([PreparedSplit.__module__])
            start = "forkserver"
        return DeviceBatches(
            dataset, self.batch_size, sampler, pipeline, training, device, self.num_workers,
            start,
        )  # fmt: skip

    def _settle_auto(self, train: list[str]) -> None:
        """``preset=auto``: the pipeline from the images' sizes, the training split's
        statistics; said in one line."""
        measured = evenly_spaced(train, 512)
        sizes = [self.found.sizes.get(p) or header_size(p, self.max_image_pixels) for p in measured]
        self.preset = choose_preset([size for size in sizes if size])
        self.mean, self.std = channel_statistics(train, self.image_size, self.cache_dir)
        side = statistics.median(max(size) for size in sizes if size)
        how = {
            "small": "resize, padded random crop, flip",
            "modern": "random resized crop, flip, RandAugment",
        }
        inform(
            f"data: {len(train)} training images, median longer side {side:.0f} px → "
            f"preset {self.preset} ({how[self.preset]}) at {self.image_size} px, normalised "
            f"with their mean {[round(m, 3) for m in self.mean]} and std "
            f"{[round(s, 3) for s in self.std]}"
        )

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        if self.trainer is not None and not self.reported:  # once the run directory is known
            self.reported = True
            self._report_found()

    def _report_found(self) -> None:
        """One warning of what was skipped or ignored; the files in the run directory."""
        summary = self.found.summary()
        if not summary:
            return
        listing = Path(self.trainer.default_root_dir) / "skipped_images.txt"
        if self.trainer.is_global_zero:
            listing.parent.mkdir(parents=True, exist_ok=True)
            listing.write_text(self.found.listing())
        warn(f"{summary} under {shown(self.root)}; listed in {listing}")
