"""Learning-rate schedules that torch.optim.lr_scheduler does not have in one piece."""

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def warmup_cosine(
    optimizer: Optimizer, max_epochs: int, warmup_epochs: int = 5, min_lr: float = 0.0
) -> LambdaLR:
    """Linear warm-up from 1% of the learning rate over ``warmup_epochs``, then cosine
    decay to ``min_lr`` at ``max_epochs`` (stepped once per epoch).

    A closed form of the epoch (a LambdaLR, whose function checkpoints do not store),
    not a chain of schedulers that carry their length in their state: a run resumed
    with a larger ``trainer.max_epochs`` follows the schedule for the new length."""
    warmup_epochs = min(warmup_epochs, max(max_epochs - 1, 0))
    decay_epochs = max(max_epochs - warmup_epochs, 1)
    base_lrs = [group["lr"] for group in optimizer.param_groups]

    def factors(base_lr: float):
        floor = min_lr / base_lr if base_lr else 0.0

        def factor(epoch: int) -> float:
            if epoch < warmup_epochs:
                return 0.01 + 0.99 * epoch / warmup_epochs
            progress = min((epoch - warmup_epochs) / decay_epochs, 1.0)
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

        return factor

    return LambdaLR(optimizer, [factors(lr) for lr in base_lrs])
