"""The base of every DataModule that reads image files in class folders."""

import statistics
from functools import partial
from pathlib import Path

from torch.utils.data import Dataset

from alexnet.data.auto_preset import channel_statistics, choose_preset, evenly_spaced
from alexnet.data.base import ClassificationDataModule
from alexnet.data.files import (
    MAX_PIXELS,
    FolderScan,
    ImageFiles,
    Sample,
    header_size,
    read_headers,
    scan_class_folders,
    shown,
)
from alexnet.data.header_cache import cached_headers
from alexnet.data.splits import stratified_holdout
from alexnet.data.transforms import PRESETS, eval_transform, image_files_recipe, train_transform
from alexnet.models.registry import IMAGENET_MEAN, IMAGENET_STD
from alexnet.run.console import inform, warn
from alexnet.run.errors import UserError

Splits = tuple[list[Sample], list[Sample], list[Sample]]


class ImageFilesDataModule(ClassificationDataModule):
    """Subclasses find the (path, label) samples of each split in ``find_splits``; this
    class checks them, reports skipped files and applies the image pipeline.

    Args:
        root: where the dataset is (or will be downloaded).
        preset: ``auto``, ``paper``, ``modern`` or ``small`` training pipeline (see
            alexnet.data.transforms and alexnet.data.auto_preset).
        val_fraction: share of each class's training images held out for validation.
        split_seed: seed of every split (fixed: the same on every machine and rank).
        max_per_class: use at most this many training images of each class (null = all).
        check_files: read every image's header once in ``setup`` to skip unreadable files.
        max_image_pixels: images of more pixels are skipped (decompression bombs).
        cache_dir: where measured statistics and the headers read are cached (the data
            directory's cache; null: measured and read every time). Never the images'
            own folder. A file whose size or modification time changed is read again.
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
        **kwargs,
    ):
        super().__init__(**kwargs)
        if preset not in PRESETS:
            raise UserError(f"data.preset={preset!r} is not one of {', '.join(PRESETS)}")
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
        kept, held = stratified_holdout([y for _, y in samples], self.val_fraction, self.split_seed)
        return [samples[i] for i in kept], [samples[i] for i in held]

    def preprocessing(self) -> dict:
        return image_files_recipe(self.image_size, self.preset, self.mean, self.std)

    def build_splits(self) -> tuple[Dataset, Dataset, Dataset]:
        train, val, test = self.find_splits()
        for name, samples in (("train", train), ("val", val), ("test", test)):
            if not samples:
                raise UserError(f"the {name} split of {self.root} has no images")
        if self.preset == "auto":
            self._settle_auto([path for path, _ in train])
        if self.normalization == "paper":  # the training split's own mean, on 0–255
            mean, _ = channel_statistics([p for p, _ in train], self.image_size, self.cache_dir)
            self.mean, self.std = self.normalised(mean, self.std)
        recipe, limit = self.preprocessing(), self.max_image_pixels
        return (
            ImageFiles(
                train, train_transform(self.preset, self.image_size, self.mean, self.std), limit
            ),
            ImageFiles(val, eval_transform(recipe), limit),
            ImageFiles(test, eval_transform(recipe, self.tta), limit),
        )

    def train_labels(self) -> list[int]:
        return [label for _, label in self.train_set.samples]

    def _settle_auto(self, train: list[str]) -> None:
        """``preset=auto``: the pipeline from the images' sizes, the training split's
        statistics; said in one line."""
        measured = evenly_spaced(train, 512)
        sizes = [
            self.found.sizes.get(p) or header_size(Path(p), self.max_image_pixels) for p in measured
        ]
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
