"""LightningDataModules for image classification, and their registry."""

from alexnet.data.base import ClassificationDataModule
from alexnet.data.caltech101 import Caltech101DataModule
from alexnet.data.cifar10 import CIFAR10DataModule
from alexnet.data.digits import DigitsDataModule
from alexnet.data.fashion_mnist import FashionMNISTDataModule
from alexnet.data.file_datamodule import ImageFilesDataModule
from alexnet.data.image_folder import ImageFolderDataModule
from alexnet.data.imagenet_subset import ImageNetSubsetDataModule
from alexnet.data.imagenette import ImagenetteDataModule
from alexnet.data.registry import DATASETS, dataset_class

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
    "dataset_class",
]
