"""The dataset registry: every DataModule by its name, as the models are by theirs.

Configs name a dataset (``data.name: digits``, the name of its file in configs/data/)
plus its constructor's arguments; checkpoints record the same name and arguments.
Building looks the name up in this table: nothing is ever imported by name.
"""

from alexnet.data.datasets.base import ClassificationDataModule
from alexnet.data.datasets.caltech101 import Caltech101DataModule
from alexnet.data.datasets.cifar10 import CIFAR10DataModule
from alexnet.data.datasets.digits import DigitsDataModule
from alexnet.data.datasets.fashion_mnist import FashionMNISTDataModule
from alexnet.data.datasets.image_folder import ImageFolderDataModule
from alexnet.data.datasets.imagenet_subset import ImageNetSubsetDataModule
from alexnet.data.datasets.imagenette import ImagenetteDataModule
from alexnet.errors import UserError

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
