"""Pruning a sweep's hopeless trials during training: after each validation the first
process reports the metric to the trial and asks the study's pruner, and every process
stops together when it says so.

Optuna's own Lightning callback (optuna-integration's PyTorchLightningPruningCallback)
reaches into Optuna's private storage classes, supports DDP only on a database, and
needs the Trial object itself, which Hydra's jobs do not get. This one is given the
study by name and opens it in the first process only; the decision crosses processes
through Lightning's broadcast, and the trial's user attribute ``pruned`` tells
the process that called ``fit`` (a different one under ``ddp_spawn``)."""

from typing import Any

import lightning as L
import optuna
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback

from alexnet.errors import UserError
from alexnet.sweeps.storage import PRUNED, open_storage, trial_id


class StudyPruning(Callback):
    """Report ``monitor`` to trial ``number`` of the study after each validation epoch;
    stop training when the study's ``pruner`` (a Hydra config of an Optuna pruner)
    prunes it."""

    def __init__(
        self, storage: str, study_name: str, number: int, pruner: dict[str, Any], monitor: str
    ) -> None:
        self.storage, self.study_name, self.number = storage, study_name, number
        self.pruner, self.monitor = pruner, monitor
        self._trial: optuna.Trial | None = None

    def _open(self) -> optuna.Trial:
        storage = open_storage(self.storage)
        study = optuna.load_study(
            study_name=self.study_name, storage=storage, pruner=instantiate(self.pruner)
        )
        return optuna.Trial(study, trial_id(storage, study, self.number))

    def trial(self) -> optuna.Trial:
        if self._trial is None:  # opened where it is used: the first process
            self._trial = self._open()
        return self._trial

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        prune = False
        if trainer.is_global_zero:
            value = trainer.callback_metrics.get(self.monitor)
            if value is None:
                raise UserError(
                    f"hydra.sweeper.pruning_metric={self.monitor} is not logged: "
                    f"give one of {', '.join(sorted(trainer.callback_metrics))}"
                )
            trial, epoch = self.trial(), trainer.current_epoch
            trial.report(float(value), step=epoch)
            prune = trial.should_prune()
            if prune:
                stopped = {"epoch": epoch, "metric": self.monitor, "value": float(value)}
                trial.set_user_attr(PRUNED, stopped)
        if trainer.strategy.broadcast(prune, src=0):
            trainer.should_stop = True

    def pruned(self) -> str | None:
        """When the pruner stopped this trial, or None (asked in any process)."""
        stopped = self._open().user_attrs.get(PRUNED)
        if stopped is None:
            return None
        return f"after epoch {stopped['epoch']}, at {stopped['metric']} {stopped['value']:.4f}"
