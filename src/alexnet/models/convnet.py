"""The paper's small CIFAR-10 network (section 3.1, Figure 1; section 3.3).

The layout of cuda-convnet's ``layers-18pct.cfg`` (Krizhevsky's 2011 code, 18% test
error on CIFAR-10 without augmentation), the "four-layer convolutional network" of the
paper's Figure 1:

    conv1 32@5×5 p2  act  max-pool 3/2  response-norm
    conv2 32@5×5 p2  act  avg-pool 3/2  response-norm
    conv3 64@5×5 p2  act  avg-pool 3/2
    fc    num_classes

Differences, each a knob: the response normalisation is by default the paper's
across-channel LRN (section 3.3); ``norm=lrn_within_map`` is cuda-convnet's ``rnorm``
(a 3×3 window of each map, ``lrn_size=3 lrn_alpha=5.6e-6 lrn_k=1``: the file's
``scale=0.00005`` is per window mean). The pools are padded so that 3/2 and 2/2 pooling
give the same output sizes (32 → 16 → 8 → 4), which the overlapping-pooling comparison
needs; the average pools leave the padding out of their means (a counted zero would
darken the border, and only for the overlapping arm).
"""

from torch import nn

from alexnet.errors import UserError
from alexnet.models.alexnet import (
    ACTIVATIONS,
    NORMS,
    RESPONSE_NORMS,
    _choice,
    last_conv_activation,
)
from alexnet.models.layers import response_norm
from alexnet.models.registry import ModelInfo, register_model

#: Each ``pools`` choice's three pools, in order.
POOLS = {"layers18pct": ("max", "avg", "avg"), "max": ("max",) * 3, "avg": ("avg",) * 3}


class CifarConvNet(nn.Module):
    """Args:
    num_classes, in_channels, input_size: as every registered model.
    activation: ``relu`` or ``tanh`` (or gelu, silu, leaky_relu).
    norm: ``lrn`` (the paper's, after the pools of conv1 and conv2), ``lrn_within_map``
        (cuda-convnet's, in the same places), ``bn`` (after every conv) or ``none``.
    pool_kernel: 3 (overlapping, stride 2) or 2 (not overlapping).
    pools: ``layers18pct`` (max, then two average pools, as cuda-convnet's file), ``max``
        or ``avg`` (all three): the paper's overlapping-pooling claim is about max pools.
    init: ``paper`` (layers-18pct's: weights N(0, 1e-4) in conv1, N(0, 0.01) elsewhere,
        zero biases; for inputs on the paper's 0–255 scale) or ``torch`` (PyTorch's).
    lrn_size, lrn_alpha, lrn_beta, lrn_k: the paper's n, α (per sum), β, k.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        input_size: int = 32,
        activation: str = "relu",
        norm: str = "lrn",
        pool_kernel: int = 3,
        pools: str = "layers18pct",
        init: str = "torch",
        lrn_size: int = 5,
        lrn_alpha: float = 1e-4,
        lrn_beta: float = 0.75,
        lrn_k: float = 2.0,
    ):
        super().__init__()
        act = ACTIVATIONS[_choice("activation", activation, ACTIVATIONS)]
        _choice("norm", norm, NORMS)
        _choice("init", init, ("paper", "torch"))
        _choice("pools", pools, POOLS)
        if pool_kernel not in (2, 3):
            raise UserError(f"model.pool_kernel={pool_kernel} must be 2 or 3")
        self.in_channels, self.input_size = in_channels, input_size
        pad = pool_kernel - 2  # same output size for 3/2 (padded) and 2/2 pooling
        pool_layers = [
            nn.MaxPool2d(pool_kernel, stride=2, padding=pad)
            if kind == "max"
            else nn.AvgPool2d(pool_kernel, 2, pad, count_include_pad=False)
            for kind in POOLS[pools]
        ]
        layers, channels = [], in_channels
        for i, (width, pool) in enumerate(zip((32, 32, 64), pool_layers, strict=True)):
            layers.append(nn.Conv2d(channels, width, 5, padding=2))
            if norm == "bn":
                layers.append(nn.BatchNorm2d(width))
            layers += [act(), pool]
            if norm in RESPONSE_NORMS and i < 2:
                layers.append(response_norm(norm, lrn_size, lrn_alpha, lrn_beta, lrn_k))
            channels = width
        self.features = nn.Sequential(*layers)
        side = input_size
        for _ in range(3):
            side = (side + 2 * pad - pool_kernel) // 2 + 1
        self.classifier = nn.Linear(channels * side * side, num_classes)
        if init == "paper":
            layers = [m for m in self.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
            for i, m in enumerate(layers):
                nn.init.normal_(m.weight, 0.0, 1e-4 if i == 0 else 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


register_model(
    ModelInfo(
        "cifar_convnet",
        CifarConvNet,
        32,
        feature_layer="features",
        head="classifier",
        gradcam_layer=last_conv_activation,
    )
)
