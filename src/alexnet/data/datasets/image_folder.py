"""Any image dataset in class folders: the "custom dataset" path."""

from alexnet.data.datasets.file_datamodule import ImageFilesDataModule, Splits
from alexnet.data.loading.splits import stratified_split
from alexnet.data.storage.files import class_folders, list_class_folders
from alexnet.errors import UserError


class ImageFolderDataModule(ImageFilesDataModule):
    """Either ``root/train/<class>/``, ``root/val/<class>/`` and optionally
    ``root/test/<class>/`` (without test/, val/ is also the test split), or a single
    ``root/<class>/`` tree split by class into ``val_fraction`` and ``test_fraction``.
    Classes are the training folder's sub-folders, sorted.

    Args:
        root: the dataset folder (not read with ``prepared.uri``).
        test_fraction: share of each class tested, for a single tree.
    """

    def __init__(self, root: str | None = None, test_fraction: float = 0.1, **kwargs):
        if root is None and not (kwargs.get("prepared") or {}).get("uri"):
            raise UserError(
                "data=image_folder needs data.root=<your class folders> "
                "(or data.prepared.uri=<a prepared copy>)"
            )
        super().__init__(root=root or "", **kwargs)
        self.test_fraction = test_fraction

    def find_splits(self) -> Splits:
        if not self.root.is_dir():
            raise UserError(f"data.root={self.root} is not a folder")
        if (self.root / "train").is_dir():
            return self._presplit()
        self.class_names = class_folders(self.root)
        samples = self.scan(self.root, self.class_names, self.max_per_class)
        splits = stratified_split(
            [y for _, y in samples],
            self.val_fraction,
            self.test_fraction,
            self.split_seed,
            names=self.class_names,
        )
        return tuple([samples[i] for i in split] for split in splits)

    def _presplit(self) -> Splits:
        self.class_names = class_folders(self.root / "train")
        for split in ("val", "test"):
            folder = self.root / split
            extra = (
                set(list_class_folders(folder)) - set(self.class_names) if folder.is_dir() else ()
            )
            if extra:
                raise UserError(
                    f"{folder} has classes that train/ lacks: {', '.join(sorted(extra))}"
                )
        if not (self.root / "val").is_dir():
            raise UserError(f"{self.root} has train/ but no val/")
        train = self.scan(self.root / "train", self.class_names, self.max_per_class)
        val = self.scan(self.root / "val", self.class_names)
        test_dir = self.root / "test"
        return train, val, self.scan(test_dir, self.class_names) if test_dir.is_dir() else val
