"""What a run prints while it trains: Rich's live display on a terminal, plain lines
where stdout is a file or a pipe (CI, nohup, SLURM logs, ``| tee``), which the live
display would fill with redraw fragments; and a model summary of the network alone."""

import time

import lightning as L
from lightning.pytorch.callbacks import (
    ModelSummary,
    ProgressBar,
    RichModelSummary,
    RichProgressBar,
)

from alexnet.adapters.lightning import SubmoduleSummary
from alexnet.console import inform, on_terminal


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class PlainProgressBar(ProgressBar):
    """A line every ``every_s`` seconds of training and one at the end of each epoch's
    training and validation: ``epoch 2/8 step 40/160 loss 0.4120 312 img/s ETA 0:00:12``.

    Args:
        every_s: seconds between two lines within an epoch.
    """

    def __init__(self, every_s: float = 10.0):
        super().__init__()
        self.every_s, self.enabled = every_s, True
        self.last_line = self.started = 0.0
        self.images = self.batches = 0  # this epoch's, in this process

    def disable(self) -> None:
        self.enabled = False

    def enable(self) -> None:
        self.enabled = True

    def _print(self, text: str) -> None:
        if self.enabled:
            inform(text)

    def on_train_start(self, trainer: L.Trainer, pl_module) -> None:
        # (a run resumed mid-epoch starts without on_train_epoch_start)
        self.on_train_epoch_start(trainer, pl_module)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module) -> None:
        self.started = self.last_line = time.monotonic()
        self.images = self.batches = 0

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.images += len(batch[1])
        self.batches += 1
        now = time.monotonic()
        total = self.total_train_batches
        done = batch_idx + 1
        if now - self.last_line < self.every_s and done != total:
            return
        self.last_line = now
        elapsed = max(now - self.started, 1e-9)
        metrics = self.get_metrics(trainer, pl_module)
        loss = metrics.get("train/loss_step")
        rate = self.batches / elapsed  # batches a second, here
        eta = (total - done) / rate if isinstance(total, int) else 0.0
        self._print(
            f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs} step {done}/{total}"
            + (f" loss {float(loss):.4f}" if loss is not None else "")
            + f" {self.images / elapsed:.0f} img/s ETA {_duration(eta)}"
        )

    def on_validation_end(self, trainer: L.Trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        shown = [
            f"{name} {float(metrics[key]):{fmt}}"
            for name, key, fmt in (
                ("val loss", "val/loss", ".4f"),
                ("val top-1", "val/acc", ".2%"),
                ("best", "val/acc_best", ".2%"),
            )
            if key in metrics
        ]
        self._print(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs} " + " ".join(shown))


def progress_bar(every_s: float = 10.0) -> ProgressBar:
    """Rich's live progress bar on a terminal, plain lines otherwise."""
    return RichProgressBar() if on_terminal() else PlainProgressBar(every_s)


class NetSummary(SubmoduleSummary, ModelSummary):
    pass


class RichNetSummary(SubmoduleSummary, RichModelSummary):
    pass


def model_summary(max_depth: int = 2) -> ModelSummary:
    """The network's layers, parameters and FLOPs: a Rich table on a terminal."""
    return (RichNetSummary if on_terminal() else NetSummary)(max_depth=max_depth)
