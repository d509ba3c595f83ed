"""The AlexNet family: one configurable network, three layouts ("archs").

``arch="paper"`` is Krizhevsky, Sutskever & Hinton (2012), section 3 and Figure 2:

    input 3×227×227
    conv1  96@11×11 /4  ReLU  LRN  maxpool 3/2    →  96×55×55 → 96×27×27
    conv2 256@5×5  p2   ReLU  LRN  maxpool 3/2    → 256×27×27 → 256×13×13   (2 groups)
    conv3 384@3×3  p1   ReLU                      → 384×13×13
    conv4 384@3×3  p1   ReLU                      → 384×13×13               (2 groups)
    conv5 256@3×3  p1   ReLU       maxpool 3/2    → 256×13×13 → 256×6×6     (2 groups)
    dropout fc6 4096 ReLU  dropout fc7 4096 ReLU  fc8 num_classes

Input size: the paper says 224×224, but an 11×11 stride-4 convolution maps 224 to
54.25, not the 55 of its Figure 2; 227 without padding gives 55 exactly, so the
paper layout uses 227 (as Caffe's reference model does) and no padding.

The two-GPU column split is ``groups=2`` on conv2, conv4 and conv5: in the paper
those layers only see the kernel maps on their own GPU, while conv3 and the fully
connected layers see both. ``groups=1`` is the one-GPU model (62,378,344 parameters
instead of 60,965,224 at 1000 classes).

LRN: the paper divides by ``(k + α·Σa²)^β`` with k=2, n=5, α=1e-4, β=0.75, a *sum*
over n channels; ``torch.nn.LocalResponseNorm`` (and Caffe) use ``α/n·Σa²``. We keep
the paper's α and pass ``α·n`` to the averaging layer, so the formula is the paper's.

The paper's constants assume its input scale. It trained on raw pixel values (0–255)
with the training set's mean subtracted, not on standardised inputs, and k, n, α, β,
the N(0, 0.01) weights and the biases of 1 were chosen for that scale: conv1's outputs
are then tens of units, α·Σa² is of the order of k, and the LRN divides strong
responses more than weak ones. On inputs standardised to std 1 every activation is
about 60× smaller (ImageNet's pixel std is about 60 on the 0–255 scale), α·Σa² stays
near 0, the divisor stays at k^β = 1.68 everywhere and the LRN is a constant ×0.59;
and the biases of 1 swamp the weighted sums instead of nudging them. Use the paper's
preprocessing (``data.normalization=center``, set by ``experiment=paper``) with these
constants; with standardised inputs scale α by the variance ratio (α × 255²·σ², about
3,600× for ImageNet's σ ≈ 0.235 on the [0, 1] scale) and prefer zero biases. The
``lrn/acting`` metric (alexnet.callbacks.ResponseNormDiagnostics) says whether the
normalisation acts.

``arch="torchvision"`` is torchvision.models.alexnet (64-192-384-256-256, no LRN, no
groups, 224 input) with the same parameter names, so its state_dict loads as is.
``arch="mini"`` keeps the 5-conv/3-FC topology with the paper's widths halved,
5×5 stride-1 conv1 and 1024-unit hidden layers, for 32×32 inputs.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn
from torchvision.models import AlexNet_Weights

from alexnet.errors import UserError
from alexnet.models.layers import response_norm
from alexnet.models.registry import ModelInfo, register_model


@dataclass(frozen=True)
class ConvSpec:
    """One convolution layer of a layout, and what follows it."""

    out_channels: int
    kernel: int
    stride: int = 1
    padding: int = 0
    grouped: bool = False  # part of the paper's two-GPU column split
    lrn: bool = False  # the paper's LRN follows this layer's ReLU
    pool: bool = False  # a max-pool follows this layer


@dataclass(frozen=True)
class Arch:
    """A layout: the conv stack, the spatial size fed to fc6, the hidden FC width."""

    convs: tuple[ConvSpec, ...]
    pooled_size: int
    hidden: int


ARCHS: dict[str, Arch] = {
    "paper": Arch(
        convs=(
            ConvSpec(96, 11, stride=4, lrn=True, pool=True),
            ConvSpec(256, 5, padding=2, grouped=True, lrn=True, pool=True),
            ConvSpec(384, 3, padding=1),
            ConvSpec(384, 3, padding=1, grouped=True),
            ConvSpec(256, 3, padding=1, grouped=True, pool=True),
        ),
        pooled_size=6,
        hidden=4096,
    ),
    "torchvision": Arch(
        convs=(
            ConvSpec(64, 11, stride=4, padding=2, pool=True),
            ConvSpec(192, 5, padding=2, pool=True),
            ConvSpec(384, 3, padding=1),
            ConvSpec(256, 3, padding=1),
            ConvSpec(256, 3, padding=1, pool=True),
        ),
        pooled_size=6,
        hidden=4096,
    ),
    "mini": Arch(
        convs=(
            ConvSpec(48, 5, padding=2, lrn=True, pool=True),
            ConvSpec(128, 3, padding=1, grouped=True, lrn=True, pool=True),
            ConvSpec(192, 3, padding=1),
            ConvSpec(192, 3, padding=1, grouped=True),
            ConvSpec(128, 3, padding=1, grouped=True, pool=True),
        ),
        pooled_size=3,
        hidden=1024,
    ),
}

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": lambda: nn.ReLU(inplace=True),
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "silu": lambda: nn.SiLU(inplace=True),
    "leaky_relu": lambda: nn.LeakyReLU(inplace=True),
}
ACTIVATION_TYPES = (nn.ReLU, nn.Tanh, nn.GELU, nn.SiLU, nn.LeakyReLU)
NORMS = ("lrn", "lrn_within_map", "bn", "none")
RESPONSE_NORMS = ("lrn", "lrn_within_map")
INITS = ("paper", "kaiming", "torch")


def _choice(name: str, value: str, choices) -> str:
    if value not in choices:
        raise UserError(f"model.{name}={value!r} is not one of {', '.join(choices)}")
    return value


class AlexNet(nn.Module):
    """AlexNet with every ablation knob of the paper as an argument.

    Args:
        num_classes: size of the last layer.
        in_channels: image channels (3 for RGB, 1 for grayscale).
        input_size: the native square input size; the data pipeline resizes to it.
        arch: layout, one of ``paper``, ``torchvision``, ``mini``.
        norm: ``lrn`` (the paper's, across channels, in its places), ``lrn_within_map``
            (cuda-convnet's ``rnorm`` in the same places: over a ``lrn_size``²
            window of each map), ``bn`` (after every conv), or ``none``.
        activation: ``relu`` (the paper), ``tanh``, ``gelu``, ``silu``, ``leaky_relu``.
        groups: channel groups of the layers the paper split across GPUs (2 = paper).
        dropout: dropout probability before fc6 and fc7 (0.5 = paper).
        init: ``paper`` (N(0, 0.01), biases ``paper_bias`` in conv2/4/5 and fc6/7, 0
            elsewhere), ``kaiming``, or ``torch`` (PyTorch's defaults, as torchvision).
        paper_bias: the bias ``init=paper`` gives conv2/4/5 and fc6/7 (the paper: 1).
        pool_kernel: max-pool window with stride 2: 3 overlaps (paper), 2 does not.
        width: a factor on every conv layer's kernels, or one factor per conv layer.
            The paper's one-GPU net (section 3.5) is ``[0.5, 0.5, 0.5, 0.5, 1]``: half
            the kernels, except in the last conv layer ("we did not halve the size of
            the final convolutional layer (nor the fully-connected layers which
            follow)"), so that both nets have about as many parameters.
        lrn_size, lrn_alpha, lrn_beta, lrn_k: the paper's n, α (per sum), β, k.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_channels: int = 3,
        input_size: int = 227,
        arch: str = "paper",
        norm: str = "lrn",
        activation: str = "relu",
        groups: int = 2,
        dropout: float = 0.5,
        init: str = "paper",
        pool_kernel: int = 3,
        lrn_size: int = 5,
        lrn_alpha: float = 1e-4,
        lrn_beta: float = 0.75,
        lrn_k: float = 2.0,
        width: float | list[float] = 1.0,
        paper_bias: float = 1.0,
    ):
        super().__init__()
        layout = ARCHS[_choice("arch", arch, ARCHS)]
        _choice("norm", norm, NORMS)
        act = ACTIVATIONS[_choice("activation", activation, ACTIVATIONS)]
        _choice("init", init, INITS)
        if not 0.0 <= dropout < 1.0:
            raise UserError(f"model.dropout={dropout} must be in [0, 1)")
        if num_classes < 1 or in_channels < 1 or groups < 1:
            raise UserError("model.num_classes, model.in_channels and model.groups must be >= 1")
        self.in_channels, self.input_size = in_channels, input_size

        layers: list[nn.Module] = []
        channels = in_channels
        widths = width if isinstance(width, list) else [width] * len(layout.convs)
        if len(widths) != len(layout.convs) or not all(0 < w <= 4 for w in widths):
            raise UserError(
                f"model.width={width} must be a number in (0, 4] or {len(layout.convs)} of them"
            )
        for spec, factor in zip(layout.convs, widths, strict=True):
            conv_groups = groups if spec.grouped else 1
            out_channels = max(round(spec.out_channels * factor), conv_groups)
            if channels % conv_groups or out_channels % conv_groups:
                raise UserError(f"model.groups={groups} does not divide {channels} channels")
            conv = nn.Conv2d(
                channels,
                out_channels,
                spec.kernel,
                stride=spec.stride,
                padding=spec.padding,
                groups=conv_groups,
                bias=norm != "bn",
            )
            layers.append(conv)
            if norm == "bn":
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(act())
            if norm in RESPONSE_NORMS and spec.lrn:
                layers.append(response_norm(norm, lrn_size, lrn_alpha, lrn_beta, lrn_k))
            if spec.pool:
                layers.append(nn.MaxPool2d(kernel_size=pool_kernel, stride=2))
            channels = out_channels

        self.features = nn.Sequential(*layers)
        # Identity at the native input size; lets other sizes reach fc6 with its shape.
        self.avgpool = nn.AdaptiveAvgPool2d(layout.pooled_size)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(channels * layout.pooled_size**2, layout.hidden),
            act(),
            nn.Dropout(dropout),
            nn.Linear(layout.hidden, layout.hidden),
            act(),
            nn.Linear(layout.hidden, num_classes),
        )
        if init == "paper":
            self._init_paper(layout, paper_bias)
        elif init == "kaiming":
            self._init_kaiming()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))

    def _init_paper(self, layout: Arch, bias: float) -> None:
        """Section 5: weights N(0, 0.01); biases 1 (``bias``) in conv2, conv4, conv5
        (the layers split across GPUs) and the hidden fully connected layers
        ("accelerates the early stages of learning by providing the ReLUs with positive
        inputs"), else 0."""
        convs = [m for m in self.features if isinstance(m, nn.Conv2d)]
        linears = [m for m in self.classifier if isinstance(m, nn.Linear)]
        split = [conv for conv, spec in zip(convs, layout.convs, strict=True) if spec.grouped]
        ones = {id(m) for m in [*split, *linears[:-1]]}
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, 0.01)
                if m.bias is not None:
                    nn.init.constant_(m.bias, bias if id(m) in ones else 0.0)

    def _init_kaiming(self) -> None:
        """He et al. 2015 for the convolutions, N(0, 0.01) for the fully connected
        layers (as torchvision's VGG), zero biases."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
                nn.init.zeros_(m.bias)


def last_conv_activation(net: AlexNet) -> str:
    """The activation after the last convolution: Grad-CAM's usual layer. (Its output,
    not the convolution's, because the in-place ReLU overwrites the latter.)"""
    last = max(i for i, m in enumerate(net.features) if isinstance(m, ACTIVATION_TYPES))
    return f"features.{last}"


# fc7 is classifier.5 (the activation after the second hidden layer), fc8 classifier.6.
_FAMILY = {
    "feature_layer": "classifier.5",
    "head": "classifier.6",
    "gradcam_layer": last_conv_activation,
}
register_model(ModelInfo("alexnet", partial(AlexNet, arch="paper"), 227, **_FAMILY))
register_model(
    ModelInfo(
        "alexnet_bn",
        partial(AlexNet, arch="paper"),
        227,
        **_FAMILY,
        defaults={"norm": "bn", "init": "kaiming"},
    )
)
register_model(
    ModelInfo(
        "alexnet_mini",
        partial(AlexNet, arch="mini"),
        32,
        **_FAMILY,
        defaults={"norm": "bn", "groups": 1, "init": "kaiming"},
    )
)
register_model(
    ModelInfo(
        "alexnet_torchvision",
        partial(AlexNet, arch="torchvision"),
        224,
        **_FAMILY,
        weights=AlexNet_Weights,  # its parameter names are torchvision's
        defaults={"norm": "none", "groups": 1, "init": "torch"},
    )
)
