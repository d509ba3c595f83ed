"""LightningDataModules for image classification."""

from alexnet.data.base import ClassificationDataModule
from alexnet.data.caltech101 import Caltech101DataModule
from alexnet.data.cifar10 import CIFAR10DataModule
from alexnet.data.digits import DigitsDataModule
from alexnet.data.fashion_mnist import FashionMNISTDataModule
from alexnet.data.image_files import ImageFilesDataModule
from alexnet.data.image_folder import ImageFolderDataModule
from alexnet.data.imagenet_subset import ImageNetSubsetDataModule
from alexnet.data.imagenette import ImagenetteDataModule

#: The datasets by their config name (configs/data/<name>.yaml); checkpoints name
#: their dataset by these keys.
DATASETS: dict[str, type[ClassificationDataModule]] = {
    "caltech101": Caltech101DataModule,
    "cifar10": CIFAR10DataModule,
    "digits": DigitsDataModule,
    "fashion_mnist": FashionMNISTDataModule,
    "image_folder": ImageFolderDataModule,
    "imagenet_subset": ImageNetSubsetDataModule,
    "imagenette": ImagenetteDataModule,
}


def dataset_name(datamodule: ClassificationDataModule) -> str:
    """The config name of ``datamodule``'s dataset."""
    for name, cls in DATASETS.items():
        if type(datamodule) is cls:
            return name
    raise ValueError(f"{type(datamodule).__name__} is not in alexnet.data.DATASETS")


__all__ = [
    "DATASETS",
    "CIFAR10DataModule",
    "Caltech101DataModule",
    "ClassificationDataModule",
    "DigitsDataModule",
    "FashionMNISTDataModule",
    "ImageFilesDataModule",
    "ImageFolderDataModule",
    "ImageNetSubsetDataModule",
    "ImagenetteDataModule",
    "dataset_name",
]
