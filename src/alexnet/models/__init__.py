"""The AlexNet family (pure PyTorch: no Lightning, no Hydra)."""

from alexnet.models.alexnet import ARCHS, AlexNet
from alexnet.models.layers import LocalResponseNorm
from alexnet.models.pretrained import alexnet_torchvision, load_torchvision_weights

__all__ = [
    "ARCHS",
    "AlexNet",
    "LocalResponseNorm",
    "alexnet_torchvision",
    "load_torchvision_weights",
]
