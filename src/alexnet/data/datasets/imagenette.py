"""Imagenette (torchvision): 10 easy ImageNet classes, ~9.5k train / ~3.9k val images."""

from torchvision import datasets

from alexnet.data.datasets.base import download
from alexnet.data.datasets.file_datamodule import ImageFilesDataModule, Splits
from alexnet.data.storage.files import list_class_folders
from alexnet.errors import UserError

# The archive (and the folder it extracts to) of each size; torchvision downloads them.
FOLDERS = {"full": "imagenette2", "320px": "imagenette2-320", "160px": "imagenette2-160"}
URL = "https://s3.amazonaws.com/fast-ai-imageclas/{}.tgz"


class ImagenetteDataModule(ImageFilesDataModule):
    """Imagenette's ``train/`` (minus ``val_fraction`` for validation) and its ``val/``
    as the test split. Class names are the readable ones ("tench", ...), in WordNet id
    order.

    Args:
        root: holds ``imagenette2[-320|-160]/{train,val}/<wnid>/``.
        size: ``full``, ``320px`` or ``160px`` (the shorter side of the images).
        download: fetch the archive in ``prepare_data`` when absent.
    """

    def __init__(
        self, root: str = "data/imagenette", size: str = "320px", download: bool = True, **kwargs
    ):
        super().__init__(root=root, **kwargs)
        if size not in FOLDERS:
            raise UserError(f"data.size={size!r} is not one of {', '.join(FOLDERS)}")
        self.size, self.download = size, download
        self.folder = self.root / FOLDERS[size]

    def prepare_data(self) -> None:
        if self.download and not self.folder.is_dir():
            download(
                lambda: datasets.Imagenette(str(self.root), size=self.size, download=True),
                self._missing,
            )
        super().prepare_data()  # the prepared copy, with data.prepared.use=true

    def _missing(self, reason: str) -> UserError:
        return UserError(
            f"Imagenette ({self.size}) is not in {self.root} ({reason}). Download "
            f"{URL.format(self.folder.name)} "
            f"and extract it there (it holds {self.folder.name}/train and /val), "
            "or point data.root at a copy."
        )

    def find_splits(self) -> Splits:
        if not self.folder.is_dir():
            raise self._missing(f"no {self.folder.name} folder")
        wnids = list_class_folders(self.folder / "train")
        listing = datasets.Imagenette(str(self.root), split="train", size=self.size)
        names = {
            wnid: synonyms[0] for wnid, synonyms in zip(listing.wnids, listing.classes, strict=True)
        }
        self.class_names = [names.get(wnid, wnid) for wnid in wnids]
        train, val = self.hold_out_val(self.scan(self.folder / "train", wnids, self.max_per_class))
        return train, val, self.scan(self.folder / "val", wnids)
