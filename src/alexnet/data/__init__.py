"""LightningDataModules for image classification."""

from alexnet.data.base import ClassificationDataModule
from alexnet.data.caltech101 import Caltech101DataModule
from alexnet.data.cifar10 import CIFAR10DataModule
from alexnet.data.digits import DigitsDataModule
from alexnet.data.image_files import ImageFilesDataModule
from alexnet.data.image_folder import ImageFolderDataModule
from alexnet.data.imagenet_subset import ImageNetSubsetDataModule
from alexnet.data.imagenette import ImagenetteDataModule

__all__ = [
    "CIFAR10DataModule",
    "Caltech101DataModule",
    "ClassificationDataModule",
    "DigitsDataModule",
    "ImageFilesDataModule",
    "ImageFolderDataModule",
    "ImageNetSubsetDataModule",
    "ImagenetteDataModule",
]
