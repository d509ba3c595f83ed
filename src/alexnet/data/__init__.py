"""LightningDataModules for image classification."""

from alexnet.data.base import ClassificationDataModule
from alexnet.data.cifar10 import CIFAR10DataModule
from alexnet.data.digits import DigitsDataModule

__all__ = ["CIFAR10DataModule", "ClassificationDataModule", "DigitsDataModule"]
