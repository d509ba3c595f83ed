"""ILSVRC-2012 (ImageNet) on disk, or a subset of its classes."""

from importlib import resources
from pathlib import Path

from alexnet.data.datasets.file_datamodule import ImageFilesDataModule, Splits
from alexnet.data.storage.files import list_class_folders
from alexnet.errors import UserError

BUNDLED_LISTS = ("imagenet100",)


def read_class_list(name_or_path: str) -> list[str]:
    """WordNet ids from a file (one per line, ``#`` comments), or a bundled list by name."""
    if name_or_path in BUNDLED_LISTS:
        text = resources.files("alexnet.data.datasets").joinpath(f"class_lists/{name_or_path}.txt")
        lines = text.read_text().splitlines()
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise UserError(
                f"data.class_list={name_or_path!r} is neither a file nor one of "
                f"{', '.join(BUNDLED_LISTS)}"
            )
        lines = path.read_text().splitlines()
    return [line.split()[0] for line in lines if line.strip() and not line.startswith("#")]


class ImageNetSubsetDataModule(ImageFilesDataModule):
    """An ILSVRC-2012 tree (``root/train/<wnid>/``, ``root/val/<wnid>/``) restricted to
    the classes of ``class_list`` or to the first ``first_n_classes`` WordNet ids.
    ``val/`` is the test split (the paper reports on it); validation is
    ``val_fraction`` of the training images. With neither option, all classes: the
    paper's full ImageNet.

    Args:
        root: the ILSVRC-2012 tree, val/ in class folders (as after the usual valprep.sh).
        class_list: a file of WordNet ids, or ``imagenet100`` (bundled: CMC's 100 classes).
        first_n_classes: the first N WordNet ids in sorted order, if no class_list.
    """

    def __init__(
        self,
        root: str = "data/imagenet",
        class_list: str | None = None,
        first_n_classes: int | None = None,
        **kwargs,
    ):
        super().__init__(root=root, **kwargs)
        self.class_list, self.first_n_classes = class_list, first_n_classes

    def find_splits(self) -> Splits:
        train_dir, val_dir = self.root / "train", self.root / "val"
        if not (train_dir.is_dir() and val_dir.is_dir()):
            raise UserError(
                f"no ILSVRC-2012 tree at {self.root}: it needs train/<wnid>/ and val/<wnid>/ "
                "(ImageNet cannot be downloaded automatically; get it from image-net.org)"
            )
        present = list_class_folders(train_dir)
        if self.class_list:
            wanted = read_class_list(self.class_list)
            missing = sorted(set(wanted) - set(present))
            if missing:
                raise UserError(
                    f"{len(missing)} classes of {self.class_list} are not in {train_dir}: "
                    f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
                )
            classes = sorted(wanted)
        else:
            classes = present[: self.first_n_classes]
        self.class_names = classes
        train, val = self.hold_out_val(self.scan(train_dir, classes, self.max_per_class))
        return train, val, self.scan(val_dir, classes)
