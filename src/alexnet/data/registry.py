"""The dataset registry: every DataModule by its name, as the models are by theirs.

Configs name a dataset (``data.name: digits``, the name of its file in configs/data/)
plus its constructor's arguments; checkpoints record the same name and arguments.
Building looks the name up in this table: nothing is ever imported by name.
"""

from alexnet.data.base import ClassificationDataModule
from alexnet.data.caltech101 import Caltech101DataModule
from alexnet.data.cifar10 import CIFAR10DataModule
from alexnet.data.digits import DigitsDataModule
from alexnet.data.fashion_mnist import FashionMNISTDataModule
from alexnet.data.image_folder import ImageFolderDataModule
from alexnet.data.imagenet_subset import ImageNetSubsetDataModule
from alexnet.data.imagenette import ImagenetteDataModule
from alexnet.run.errors import UserError

DATASETS: dict[str, type[ClassificationDataModule]] = {
    "caltech101": Caltech101DataModule,
    "cifar10": CIFAR10DataModule,
    "digits": DigitsDataModule,
    "fashion_mnist": FashionMNISTDataModule,
    "image_folder": ImageFolderDataModule,
    "imagenet_subset": ImageNetSubsetDataModule,
    "imagenette": ImagenetteDataModule,
}


def dataset_class(name: object) -> type[ClassificationDataModule]:
    """The DataModule class of dataset ``name``; a UserError listing the names if none."""
    if not isinstance(name, str) or name not in DATASETS:
        raise UserError(f"data.name={name!r} is not a registered dataset: {', '.join(DATASETS)}")
    return DATASETS[name]
