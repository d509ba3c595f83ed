"""Layers the AlexNet family needs beyond torch.nn."""

import torch
import torch.nn.functional as F
from torch import nn


class LocalResponseNorm(nn.Module):
    """Local response normalisation across channels, numerically equal to
    ``torch.nn.LocalResponseNorm`` (same arguments, same output).

    ``b = a / (k + alpha / size * sum(a**2 over `size` neighbouring channels)) ** beta``

    torch's own layer sums the window with ``avg_pool3d``, which has no deterministic
    CUDA backward and was missing on older Apple MPS builds; this one sums the
    ``size`` shifted slices with ``unfold``, which every backend supports.
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squared = F.pad(x * x, (0, 0, 0, 0, self.size // 2, (self.size - 1) // 2))
        window_sum = squared.unfold(1, self.size, 1).sum(dim=-1)
        return x / (self.k + self.alpha / self.size * window_sum).pow(self.beta)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
