"""Caltech-101 (torchvision): 101 object categories, 31 to 800 images each."""

from pathlib import Path

from torchvision import datasets

from alexnet.data.datasets.base import download
from alexnet.data.datasets.file_datamodule import ImageFilesDataModule, Splits
from alexnet.data.loading.splits import per_class_split, stratified_split
from alexnet.data.storage.files import list_class_folders
from alexnet.errors import UserError

FOLDER = "101_ObjectCategories"
NOT_A_CLASS = ("BACKGROUND_Google",)  # clutter images, not a category (as torchvision)
URL = "https://data.caltech.edu/records/mzrjq-6wc02/files/caltech-101.zip"


class Caltech101DataModule(ImageFilesDataModule):
    """Caltech-101 with a deterministic stratified split (it has no official one).

    With ``train_per_class`` set (the standard protocol: 30), that many images of each
    class train, the rest (at most ``max_test_per_class``, 50) test; otherwise
    ``test_fraction`` of each class tests. Validation is ``val_fraction`` of training.
    Grayscale images are converted to RGB like every other image.

    Args:
        root: holds ``caltech101/101_ObjectCategories/`` (torchvision's layout) or
            ``101_ObjectCategories/`` itself.
        download: fetch it in ``prepare_data`` when absent.
    """

    def __init__(
        self,
        root: str = "data",
        download: bool = True,
        train_per_class: int | None = None,
        max_test_per_class: int | None = 50,
        test_fraction: float = 0.2,
        **kwargs,
    ):
        super().__init__(root=root, **kwargs)
        self.download = download
        self.train_per_class, self.max_test_per_class = train_per_class, max_test_per_class
        self.test_fraction = test_fraction

    def categories_dir(self) -> Path | None:
        for candidate in (self.root / "caltech101" / FOLDER, self.root / FOLDER):
            if candidate.is_dir():
                return candidate
        return None

    def prepare_data(self) -> None:
        if self.download and self.categories_dir() is None:
            download(lambda: datasets.Caltech101(str(self.root), download=True), self._missing)
        super().prepare_data()  # the prepared copy, with data.prepared.use=true

    def _missing(self, reason: str) -> UserError:
        return UserError(
            f"Caltech-101 is not in {self.root} ({reason}). Download {URL}, extract "
            f"{FOLDER}.tar.gz from it and put {FOLDER}/ at {self.root / 'caltech101' / FOLDER}, "
            "or point data.root at the folder that holds it."
        )

    def find_splits(self) -> Splits:
        folder = self.categories_dir()
        if folder is None:
            raise self._missing("no 101_ObjectCategories folder")
        self.class_names = list_class_folders(folder, exclude=NOT_A_CLASS)
        samples = self.scan(folder, self.class_names, self.max_per_class)
        labels = [y for _, y in samples]
        if self.train_per_class:
            train, test = per_class_split(
                labels, self.train_per_class, self.max_test_per_class, self.split_seed
            )
            train_samples = [samples[i] for i in train]
            train_samples, val_samples = self.hold_out_val(train_samples)
            return train_samples, val_samples, [samples[i] for i in test]
        train, val, test = stratified_split(
            labels, self.val_fraction, self.test_fraction, self.split_seed
        )
        return tuple([samples[i] for i in split] for split in (train, val, test))
