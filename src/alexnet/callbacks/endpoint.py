"""The paper's endpoint (section 5): the learning rate is divided by 10 whenever the
validation error stops improving (``scheduler=plateau``), and training stops the third
time it does."""

import lightning as L

from alexnet.errors import UserError


class StopAfterRateDrops(L.Callback):
    """Stops training once the learning rate has been lowered ``drops`` times (by any
    scheduler; with ``scheduler=plateau``, each time the validation error stopped
    improving): the run trains at the rate and at each lowered one but the last. (The
    rate is lowered after the epoch-end hooks, so the stop comes at the next epoch's
    start: Lightning counts that epoch, which trains nothing, in ``current_epoch``.) A run that
    reaches ``trainer.max_epochs`` first has not reached this endpoint: its learning-rate
    curve (``lr-<optimizer>``) shows fewer drops.

    Args:
        drops: how many times the learning rate is lowered before training stops.
    """

    def __init__(self, drops: int = 3):
        if drops < 1:
            raise UserError(f"callbacks.stop_after_rate_drops.drops={drops} must be 1 or more")
        self.drops, self.seen, self.last_rate = drops, 0, None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        rate = trainer.optimizers[0].param_groups[0]["lr"]
        if self.last_rate is not None and rate < self.last_rate:
            self.seen += 1
        self.last_rate = rate
        if self.seen >= self.drops:
            trainer.should_stop = True

    def state_dict(self) -> dict:
        return {"seen": self.seen, "last_rate": self.last_rate}

    def load_state_dict(self, state: dict) -> None:
        self.seen, self.last_rate = state["seen"], state["last_rate"]
