"""The model registry: every network is registered once, by name, with its metadata.

In the spirit of timm's ``@register_model`` and pretrained configs: configs and
checkpoints name a registered model plus keyword arguments, and the tools (features,
Grad-CAM, export, pretrained loading, fine-tuning, preprocessing) read the metadata
instead of hard-coding a layer. A new network is one constructor and one
``register_model`` call::

    register_model(ModelInfo("tiny", TinyNet, input_size=16, feature_layer="body.3",
                             head="head", gradcam_layer="body.1"))

Every constructor takes ``num_classes``, ``in_channels`` and ``input_size`` keywords.
Building looks the name up in this table: nothing is ever imported by name.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from torch import nn

from alexnet.arguments import checked_arguments
from alexnet.errors import UserError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

LayerName = str | Callable[[nn.Module], str]


@dataclass(frozen=True)
class ModelInfo:
    """A registered network and what tools need to know about it.

    Args:
        name: the registered name (``model.name`` in configs and checkpoints).
        constructor: builds the network from keyword arguments (a ``functools.partial``
            fixes the ones a variant does not let users change).
        input_size: native square input side; the data pipeline resizes to it.
        in_channels: native input channels (a dataset may ask for others).
        mean, std: the default per-channel normalisation of its pretrained weights.
        feature_layer: the module whose output is the penultimate feature vector
            (fc7 for the AlexNet family).
        head: the classifier layer to replace for fine-tuning (an ``nn.Linear``).
        gradcam_layer: the module whose output Grad-CAM explains.
        weights: the torchvision weights enum whose members it can load
            (``model.weights=IMAGENET1K_V1``), or None.
        defaults: keyword arguments the variant sets and users may override.

    The layer names may be functions of the built network, for layouts whose indices
    depend on the arguments (BatchNorm adds layers).
    """

    name: str
    constructor: Callable[..., nn.Module]
    input_size: int
    feature_layer: LayerName
    head: LayerName
    gradcam_layer: LayerName
    in_channels: int = 3
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    weights: type[Enum] | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def layer_name(self, which: str, net: nn.Module) -> str:
        """The dotted name of the ``feature_layer``, ``head`` or ``gradcam_layer``."""
        name = getattr(self, which)
        return name(net) if callable(name) else name

    def layer(self, which: str, net: nn.Module) -> nn.Module:
        """The ``feature_layer``, ``head`` or ``gradcam_layer`` module of ``net``."""
        return net.get_submodule(self.layer_name(which, net))


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(info: ModelInfo) -> ModelInfo:
    """Add ``info`` to the registry (a name can be registered once)."""
    if info.name in _REGISTRY and _REGISTRY[info.name] != info:
        raise ValueError(f"a model named {info.name!r} is already registered")
    _REGISTRY[info.name] = info
    return info


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def model_info(name: object) -> ModelInfo:
    """The registered model ``name``; a UserError listing the names if there is none."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise UserError(
            f"model.name={name!r} is not a registered model: {', '.join(list_models())}"
        )
    return _REGISTRY[name]


def model_arguments(name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The variant's defaults updated with ``arguments``, checked against its
    constructor (unknown names and wrong types are UserErrors)."""
    info = model_info(name)
    merged = {"input_size": info.input_size, **info.defaults, **arguments}
    return checked_arguments(info.constructor, merged, f"model {name}")


def create_model(name: str, **arguments: Any) -> nn.Module:
    """Build the registered model ``name`` with ``arguments`` (checked first)."""
    return model_info(name).constructor(**model_arguments(name, arguments))
