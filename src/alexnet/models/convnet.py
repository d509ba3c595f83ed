"""The paper's small CIFAR-10 network (section 3.1, Figure 1; section 3.3).

The layout of cuda-convnet's ``layers-18pct.cfg`` (Krizhevsky's 2011 code, 18% test
error on CIFAR-10 without augmentation), the "four-layer convolutional network" of the
paper's Figure 1:

    conv1 32@5×5 p2  act  max-pool 3/2  response-norm
    conv2 32@5×5 p2  act  avg-pool 3/2  response-norm
    conv3 64@5×5 p2  act  avg-pool 3/2
    fc    num_classes

Differences, each a knob: the response normalisation is the paper's across-channel
LRN (section 3.3; cuda-convnet's file used a within-map one), and the pools are padded
so that 3/2 and 2/2 pooling give the same output sizes (32 → 16 → 8 → 4), which the
overlapping-pooling comparison needs.
"""

from torch import nn

from alexnet.errors import UserError
from alexnet.models.alexnet import ACTIVATIONS, _choice, last_conv_activation
from alexnet.models.layers import LocalResponseNorm
from alexnet.models.registry import ModelInfo, register_model


class CifarConvNet(nn.Module):
    """Args:
    num_classes, in_channels, input_size: as every registered model.
    activation: ``relu`` or ``tanh`` (or gelu, silu, leaky_relu).
    norm: ``lrn`` (the paper's, after conv1 and conv2), ``bn`` (after every conv) or ``none``.
    pool_kernel: 3 (overlapping, stride 2) or 2 (not overlapping).
    init: ``paper`` (N(0, 0.01) weights; biases 1 in conv2 and conv3, section 5) or
        ``paper_zero_bias`` (the same, biases 0), or ``torch``.
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
        init: str = "torch",
        lrn_size: int = 5,
        lrn_alpha: float = 1e-4,
        lrn_beta: float = 0.75,
        lrn_k: float = 2.0,
    ):
        super().__init__()
        act = ACTIVATIONS[_choice("activation", activation, ACTIVATIONS)]
        _choice("norm", norm, ("lrn", "bn", "none"))
        _choice("init", init, ("paper", "paper_zero_bias", "torch"))
        if pool_kernel not in (2, 3):
            raise UserError(f"model.pool_kernel={pool_kernel} must be 2 or 3")
        self.in_channels, self.input_size = in_channels, input_size
        pad = pool_kernel - 2  # same output size for 3/2 (padded) and 2/2 pooling
        pools = (nn.MaxPool2d, nn.AvgPool2d, nn.AvgPool2d)
        layers, channels = [], in_channels
        for i, (width, pool) in enumerate(zip((32, 32, 64), pools, strict=True)):
            layers.append(nn.Conv2d(channels, width, 5, padding=2))
            if norm == "bn":
                layers.append(nn.BatchNorm2d(width))
            layers += [act(), pool(pool_kernel, stride=2, padding=pad)]
            if norm == "lrn" and i < 2:
                layers.append(LocalResponseNorm(lrn_size, lrn_alpha * lrn_size, lrn_beta, lrn_k))
            channels = width
        self.features = nn.Sequential(*layers)
        side = input_size
        for _ in range(3):
            side = (side + 2 * pad - pool_kernel) // 2 + 1
        self.classifier = nn.Linear(channels * side * side, num_classes)
        if init != "torch":
            convs = [m for m in self.features if isinstance(m, nn.Conv2d)]
            for m in [*convs, self.classifier]:
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)
            if init == "paper":
                for conv in convs[1:]:
                    nn.init.ones_(conv.bias)

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
