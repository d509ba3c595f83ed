"""The AlexNet family and its model registry (pure PyTorch: no Lightning, no Hydra)."""

from alexnet.models.alexnet import ARCHS, AlexNet
from alexnet.models.convnet import CifarConvNet
from alexnet.models.layers import LocalResponseNorm, ResponseNorm, WithinMapNorm
from alexnet.models.pretrained import freeze, load_torchvision_weights, load_weights
from alexnet.models.registry import (
    ModelInfo,
    create_model,
    list_models,
    model_arguments,
    model_info,
    register_model,
)

__all__ = [
    "ARCHS",
    "AlexNet",
    "CifarConvNet",
    "LocalResponseNorm",
    "ResponseNorm",
    "WithinMapNorm",
    "ModelInfo",
    "create_model",
    "freeze",
    "list_models",
    "load_torchvision_weights",
    "load_weights",
    "model_arguments",
    "model_info",
    "register_model",
]
