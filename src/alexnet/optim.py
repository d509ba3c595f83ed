"""Learning-rate schedules that torch.optim.lr_scheduler does not have in one piece."""

from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR


def warmup_cosine(
    optimizer: Optimizer, max_epochs: int, warmup_epochs: int = 5, min_lr: float = 0.0
) -> SequentialLR:
    """Linear warm-up from 1% of the learning rate over ``warmup_epochs``, then cosine
    decay to ``min_lr`` at ``max_epochs`` (stepped once per epoch)."""
    warmup_epochs = min(warmup_epochs, max(max_epochs - 1, 0))
    warmup = LinearLR(optimizer, start_factor=0.01, total_iters=max(warmup_epochs, 1))
    cosine = CosineAnnealingLR(optimizer, T_max=max(max_epochs - warmup_epochs, 1), eta_min=min_lr)
    return SequentialLR(optimizer, [warmup, cosine], milestones=[warmup_epochs])
