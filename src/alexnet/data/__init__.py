"""Data, by concern: the datasets and their registry (datasets), where images are kept
(storage), how they become batches (loading)."""

from alexnet.data.datasets.base import ClassificationDataModule
from alexnet.data.datasets.caltech101 import Caltech101DataModule
from alexnet.data.datasets.cifar10 import CIFAR10DataModule
from alexnet.data.datasets.digits import DigitsDataModule
from alexnet.data.datasets.fashion_mnist import FashionMNISTDataModule
from alexnet.data.datasets.file_datamodule import ImageFilesDataModule
from alexnet.data.datasets.image_folder import ImageFolderDataModule
from alexnet.data.datasets.imagenet_subset import ImageNetSubsetDataModule
from alexnet.data.datasets.imagenette import ImagenetteDataModule
from alexnet.data.datasets.registry import DATASETS, dataset_class

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
