"""Learning-rate schedules that torch.optim.lr_scheduler does not have in one piece."""

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def warmup_cosine(
    optimizer: Optimizer,
    max_epochs: int,
    warmup_epochs: float = 1,
    min_lr: float = 0.0,
    steps_per_epoch: int = 1,
) -> LambdaLR:
    """Linear warm-up from 1% of the learning rate over ``warmup_epochs`` (a fraction of
    an epoch is fine), then cosine decay to ``min_lr`` at the end of ``max_epochs``,
    stepped after every one of the ``steps_per_epoch`` batches.

    A closed form of the step (a LambdaLR, whose function checkpoints do not store),
    not a chain of schedulers that carry their length in their state: a run resumed
    with a larger ``trainer.max_epochs`` follows the schedule for the new length."""
    total = max(max_epochs * steps_per_epoch, 1)
    warmup = min(round(warmup_epochs * steps_per_epoch), total - 1)
    base_lrs = [group["lr"] for group in optimizer.param_groups]

    def factors(base_lr: float):
        floor = min_lr / base_lr if base_lr else 0.0

        def factor(step: int) -> float:
            if step < warmup:
                return 0.01 + 0.99 * step / warmup
            progress = min((step - warmup) / max(total - warmup, 1), 1.0)
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

        return factor

    return LambdaLR(optimizer, [factors(lr) for lr in base_lrs])
