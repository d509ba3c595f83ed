"""The LightningModule that trains, validates and tests any image classifier."""

import inspect
import math
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.lr_scheduler import LambdaLR, ReduceLROnPlateau
from torchmetrics import MaxMetric, MeanMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from alexnet.console import warn
from alexnet.data.loading.sampling import IGNORE
from alexnet.errors import Diverged, UserError
from alexnet.fast import compile_net, to_channels_last

OptimizerFactory = Callable[..., torch.optim.Optimizer]
#: The evaluation stages: validation, test, and the training subset tested in eval mode.
EVAL_STAGES = ("val", "test", "train_eval")
#: What is logged at the end of every epoch: what a sweep's pruner can watch.
EPOCH_METRICS = (
    *(f"train/{name}" for name in ("loss_epoch", "acc", "acc_top5")),
    *(f"val/{name}" for name in ("loss", "acc", "acc_top5", "acc_best")),
)
SchedulerFactory = Callable[[torch.optim.Optimizer], Any]


def _check_optimizer(optimizer: OptimizerFactory) -> None:
    """Build the optimizer once on a dummy parameter, so that a bad value (lr <= 0,
    momentum < 0, ...) stops the run before training with torch's own message."""
    try:
        optimizer([nn.Parameter(torch.zeros(1))])
    except ValueError as err:
        raise UserError(f"optimizer: {err}") from None


class ClassifierModule(L.LightningModule):
    """Cross-entropy training of ``net`` with top-1/top-5 accuracy.

    Logs ``{train,val,test}/loss``, ``{train,val,test}/acc``, ``{val,test}/acc_top5``,
    ``val/acc_best`` and each training batch's ``train/acc_step``; a second test loader
    (the DataModule's ``train_eval_size``) is logged as ``train_eval/*``. ``optimizer``
    and ``scheduler`` are factories (Hydra ``_partial_`` configs); ``class_names`` name
    the classes in figures. ``compile`` (True or a torch.compile backend name) and
    ``channels_last`` are opt-in speed-ups. ``label_map`` (evaluation): the net's class of
    each of the data's labels, for data with some of the net's classes.
    A non-finite loss, gradient or weight raises :class:`Diverged` (after skipping at
    most ``max_nonfinite_steps`` steps whose loss is not finite).
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        num_classes: int = 1000,
        label_smoothing: float = 0.0,
        monitor: str = "val/acc",
        class_names: list[str] | None = None,
        compile: bool | str = False,
        channels_last: bool = False,
        max_nonfinite_steps: int = 0,
        label_map: list[int] | None = None,
    ):
        super().__init__()
        if optimizer is not None:  # None: evaluation only
            _check_optimizer(optimizer)
        if not 0.0 <= label_smoothing < 1.0:
            raise UserError(f"label_smoothing={label_smoothing} must be in [0, 1)")
        self.save_hyperparameters(
            ignore=["net", "optimizer", "scheduler", "label_map"], logger=False
        )
        # evaluation on data whose labels index some of the net's classes (by name)
        self.label_map = torch.tensor(label_map) if label_map is not None else None
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        top5 = min(5, num_classes)
        metrics = MetricCollection(
            {
                "acc": MulticlassAccuracy(num_classes, average="micro", ignore_index=IGNORE),
                "acc_top5": MulticlassAccuracy(
                    num_classes, top_k=top5, average="micro", ignore_index=IGNORE
                ),
            }
        )
        self.train_metrics = metrics.clone(prefix="train/")
        self.train_loss = MeanMetric()
        for running in (self.train_metrics, self.train_loss):  # a resumed epoch goes on
            running.persistent(True)
        self.eval_metrics = nn.ModuleDict(
            {stage: metrics.clone(prefix=f"{stage}/") for stage in EVAL_STAGES}
        )
        # Evaluation losses: a mean over images (padding left out), exact under DDP.
        self.eval_losses = nn.ModuleDict({stage: MeanMetric() for stage in EVAL_STAGES})
        self.val_acc_best = MaxMetric()
        self.val_acc_best.persistent(True)  # checkpoints keep it: a resumed run goes on
        self.nonfinite_steps = 0
        size = getattr(net, "input_size", None)
        if size:  # lets the model summary show each layer's in/out sizes
            self.example_input_array = torch.zeros(1, getattr(net, "in_channels", 3), size, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(to_channels_last(x) if self.hparams.channels_last else x)

    def setup(self, stage: str) -> None:
        # Class names travel with the weights, so predictions can print them.
        names = getattr(self.trainer.datamodule, "class_names", None)
        if names:
            self.hparams["class_names"] = list(names)
        if self.hparams.channels_last:
            self.net.to(memory_format=torch.channels_last)
        if self.hparams.compile:
            compile_net(self.net, self.hparams.compile)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Logits of a batch; for a batch of several views per image (B, V, C, H, W),
        such as the paper's ten crops, the log of the views' mean softmax."""
        if images.ndim == 5:
            probs = self(images.flatten(0, 1)).softmax(dim=-1)
            return probs.view(*images.shape[:2], -1).mean(dim=1).log()
        return self(images)

    def _step(self, batch, stage: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Loss and logits of a batch, logged with the ``stage``'s metrics; None for a
        training batch whose loss is not finite and may be skipped."""
        images, targets = batch
        if self.label_map is not None:
            known = targets != IGNORE
            targets = torch.where(
                known, self.label_map.to(targets.device)[targets * known], targets
            )
        logits = self.logits(images)
        smoothing = self.hparams.label_smoothing if stage == "train" else 0.0  # a training aid
        losses = F.cross_entropy(logits, targets, label_smoothing=smoothing, reduction="none")
        # (0 for a padding duplicate, label IGNORE)
        counted = targets != IGNORE
        loss = losses.sum() / counted.sum().clamp_min(1)
        if stage == "train":
            if not self._loss_is_finite(loss):
                return None
            self.train_loss.update(loss)
            self.log("train/loss_step", loss, on_step=True, on_epoch=False, prog_bar=True)
            self.log("train/loss_epoch", self.train_loss, on_step=False, on_epoch=True)
            metrics = self.train_metrics
            batch = metrics["acc"](logits, targets)  # this batch's accuracy; the epoch's too
            self.log("train/acc_step", batch, on_step=True, on_epoch=False)
            metrics["acc_top5"].update(logits, targets)
        else:
            if counted.any():
                self.eval_losses[stage].update(losses[counted])
            self.log(
                f"{stage}/loss",
                self.eval_losses[stage],
                on_epoch=True,
                prog_bar=stage != "train_eval",
                add_dataloader_idx=False,
            )
            metrics = self.eval_metrics[stage]
            metrics.update(logits, targets)
        for name in ("acc", "acc_top5"):  # top-1 in the progress bar, top-5 only logged
            self.log(
                f"{stage}/{name}",
                metrics[name],
                on_step=False,
                on_epoch=True,
                prog_bar=name == "acc" and stage != "train_eval",
                add_dataloader_idx=False,
            )
        return loss, logits

    def _loss_is_finite(self, loss: torch.Tensor) -> bool:
        """Whether every process's loss is finite; if not, the step is skipped while
        ``max_nonfinite_steps`` allows, else training stops with :class:`Diverged`."""
        if self.trainer.strategy.reduce_boolean_decision(bool(torch.isfinite(loss)), all=True):
            return True
        self.nonfinite_steps += 1
        where = f"epoch {self.current_epoch}, step {self.global_step}"
        if self.nonfinite_steps > self.hparams.max_nonfinite_steps:
            raise Diverged(f"the loss is {loss.item()} at {where}")
        warn(
            f"skipping {where}: the loss is {loss.item()} ({self.nonfinite_steps} of at most "
            f"{self.hparams.max_nonfinite_steps} skipped steps)"
        )
        return False

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """A non-finite gradient stops training (with 16-bit mixed precision the gradient
        scaler skips such steps itself)."""
        if self.trainer.precision == "16-mixed":
            return
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        if grads and not torch.isfinite(torch.nn.utils.get_total_norm(grads)):
            where = f"epoch {self.current_epoch}, step {self.global_step}"
            raise Diverged(f"a gradient is not finite at {where}")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Never write weights that are not finite over a checkpoint to resume from."""
        if not all(torch.isfinite(p).all() for p in self.parameters()):
            where = f"epoch {self.current_epoch}, step {self.global_step}"
            raise Diverged(f"the weights are not finite at {where}")

    def training_step(self, batch, batch_idx: int) -> torch.Tensor | None:
        step = self._step(batch, "train")
        return None if step is None else step[0]  # None: Lightning skips the update

    def validation_step(self, batch, batch_idx: int) -> dict[str, torch.Tensor]:
        loss, logits = self._step(batch, "val")
        return {"loss": loss, "logits": logits.detach()}  # for the figure callbacks

    def test_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._step(batch, "test" if dataloader_idx == 0 else "train_eval")

    def on_train_start(self) -> None:
        # Resumed with another trainer.max_epochs: a closed-form schedule (LambdaLR) gives
        # this epoch's rate for the new length (otherwise the restored rate would hold).
        for config in self.trainer.lr_scheduler_configs:
            scheduler = config.scheduler
            if isinstance(scheduler, LambdaLR):
                rates = zip(scheduler.optimizer.param_groups, scheduler.base_lrs, strict=True)
                for (group, base), factor in zip(rates, scheduler.lr_lambdas, strict=True):
                    group["lr"] = base * factor(scheduler.last_epoch)

    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        # The running training metrics are kept in checkpoints so that an epoch resumed
        # mid-way goes on; one saved at an epoch's end still holds the finished epoch's
        # (Lightning resets them after the epoch-end hooks), which must not count in the next.
        if batch_idx == 0:
            self.train_metrics.reset()
            self.train_loss.reset()

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:  # its few batches are not an epoch's result
            return
        self.val_acc_best(self.eval_metrics["val"]["acc"].compute())
        self.log("val/acc_best", self.val_acc_best.compute(), prog_bar=True, sync_dist=True)

    def configure_optimizers(self) -> dict:
        if self.optimizer_factory is None:
            raise UserError("training needs an optimizer config")
        trainable = [p for p in self.parameters() if p.requires_grad]  # frozen layers stay out
        optimizer = self.optimizer_factory(params=trainable)
        if self.scheduler_factory is None:
            return {"optimizer": optimizer}
        # A schedule that takes steps_per_epoch is stepped after every batch.
        per_step = "steps_per_epoch" in inspect.signature(self.scheduler_factory).parameters
        if per_step:
            trainer = self._trainer  # None outside a Trainer: one step an epoch
            epochs = max(trainer.max_epochs or 1, 1) if trainer else 1
            steps = math.ceil(trainer.estimated_stepping_batches / epochs) if trainer else 1
            scheduler = self.scheduler_factory(optimizer, steps_per_epoch=steps)
        else:
            scheduler = self.scheduler_factory(optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {
                "scheduler": scheduler,
                "monitor": self.hparams.monitor,
                "interval": "step" if per_step else "epoch",
                "frequency": self._epochs_per_validation(scheduler),
            },
        }

    def _epochs_per_validation(self, scheduler: object) -> int:
        """How often a schedule steps, in epochs: a plateau schedule reads the validation
        metric, so it steps after each validation (with ``check_val_every_n_epoch`` > 1,
        Lightning would otherwise stop on a missing metric before the first one, and step
        on the last one's value again at every epoch between); any other, every epoch."""
        trainer = self._trainer
        if not isinstance(scheduler, ReduceLROnPlateau) or trainer is None:
            return 1
        return trainer.check_val_every_n_epoch or 1
