"""Response normalisation layers of the AlexNet family, and whether they act.

Both divide each activation by ``(k + alpha / size^d · Σ a²)^beta``, a sum of squares
over a neighbourhood: across ``size`` adjacent channels (the paper's LRN, section 3.3)
or over a ``size×size`` window of the same map (cuda-convnet's ``rnorm``, the layer of
the layers-18pct CIFAR-10 network). With small activations the sum is negligible and
the layer only multiplies by the constant ``k^-beta``: it "acts" only where the
divisor moves away from ``k^beta``, which :meth:`ResponseNorm.acting` measures.
"""

import torch
import torch.nn.functional as F
from torch import nn

#: A divisor within this relative distance of k^beta counts as not acting.
ACTING_TOLERANCE = 0.05


class ResponseNorm(nn.Module):
    """The shared part: the division, the constants and the acting share."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def window_mean(self, squared: torch.Tensor) -> torch.Tensor:
        """The mean of ``squared`` over each position's neighbourhood (zeros beyond the
        border count, as in torch's and cuda-convnet's layers)."""
        raise NotImplementedError

    def divisor(self, x: torch.Tensor) -> torch.Tensor:
        return (self.k + self.alpha * self.window_mean(x * x)).pow(self.beta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / self.divisor(x)

    @torch.no_grad()
    def acting(self, x: torch.Tensor) -> tuple[int, int]:
        """(positions whose divisor differs from k^beta by more than 5%, positions) for
        the input ``x``: 0 of N means the layer is a constant scaling here."""
        relative = self.divisor(x) / self.k**self.beta - 1
        return int((relative.abs() > ACTING_TOLERANCE).sum()), relative.numel()

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class LocalResponseNorm(ResponseNorm):
    """The paper's normalisation across channels, numerically equal to
    ``torch.nn.LocalResponseNorm`` (same arguments, same output).

    ``b = a / (k + alpha / size * sum(a**2 over `size` neighbouring channels)) ** beta``

    torch's own layer sums the window with ``avg_pool3d``, which has no deterministic
    CUDA backward and was missing on older Apple MPS builds; this one sums the
    ``size`` shifted slices with ``unfold``, which every backend supports.
    """

    def window_mean(self, squared: torch.Tensor) -> torch.Tensor:
        padded = F.pad(squared, (0, 0, 0, 0, self.size // 2, (self.size - 1) // 2))
        return padded.unfold(1, self.size, 1).sum(dim=-1) / self.size


class WithinMapNorm(ResponseNorm):
    """cuda-convnet's ``rnorm``: the same division, with the sum over a ``size×size``
    window of the activation's own map (layers-18pct: size 3, alpha 5e-5 on the
    window's mean, beta 0.75, k 1)."""

    def window_mean(self, squared: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(
            squared, self.size, stride=1, padding=self.size // 2, count_include_pad=True
        )[..., : squared.shape[-2], : squared.shape[-1]]


def response_norm(kind: str, size: int, alpha: float, beta: float, k: float) -> ResponseNorm:
    """The ``kind`` (``lrn`` across channels or ``lrn_within_map``) of layer, with the
    paper's convention for ``alpha``: the coefficient of the neighbourhood's *sum*."""
    if kind == "lrn":
        return LocalResponseNorm(size, alpha * size, beta, k)
    return WithinMapNorm(size, alpha * size * size, beta, k)


@torch.no_grad()
def acting_shares(net: nn.Module, images: torch.Tensor) -> dict[str, float]:
    """For each response normalisation layer of ``net`` (by name), and ``""`` for all
    of them together: the share of positions, over ``images``, where its divisor
    differs from k^beta by more than 5%. Runs the network's own (eager) forward."""
    counts: dict[str, tuple[int, int]] = {}
    layers = {name: m for name, m in net.named_modules() if isinstance(m, ResponseNorm)}
    if not layers:
        return {}

    def hook(name: str):
        return lambda module, inputs, output: counts.__setitem__(name, module.acting(inputs[0]))

    handles = [layer.register_forward_hook(hook(name)) for name, layer in layers.items()]
    try:
        type(net).forward(net, images)  # not a compiled forward, which may skip the hooks
    finally:
        for handle in handles:
            handle.remove()
    if not counts:  # (layers its forward does not use)
        return {}
    shares = {name: acting / total for name, (acting, total) in counts.items()}
    shares[""] = sum(a for a, _ in counts.values()) / sum(t for _, t in counts.values())
    return shares
