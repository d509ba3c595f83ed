"""Three things Lightning 2.6 keeps private. (Mid-epoch resume uses its public route, a
stateful loader: alexnet.data.loading.sampling.ResumesMidEpoch.)

- **The CSV log's columns.** Lightning's CSV writer knows the file's columns only from
  what it logged itself, in memory: ``ContinuingCSVLogger`` adds the file's header to
  them (the writer's ``metrics_keys``).
- **A log row before it is logged.** Checkpoints are written in the
  ``on_train_batch_end`` and ``on_train_epoch_end`` hooks, and Lightning logs (and
  flushes) the batch's or the epoch's row only after them: a process killed in between
  resumes past a row that is nowhere. The row is read from the logger connector's
  results, as Lightning then logs it.
- **A model summary of part of the module.** ``ModelSummary`` summarises the whole
  LightningModule, metric modules included; the rows are chosen in its private
  ``_summary`` hook and kept in the summary's ``_layer_summary``.
"""

import csv
from pathlib import Path

import lightning as L
from lightning.fabric.utilities.apply_func import convert_tensors_to_scalars
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.model_summary import ModelSummary as Summary


def unlogged_row(trainer: L.Trainer) -> dict[str, float | int]:
    """In the hooks where checkpoints are saved, ``on_train_batch_end`` and
    ``on_train_epoch_end``: the row Lightning logs after them (the batch's or the epoch's
    metrics, ``epoch`` and ``step``, as the CSV logger writes them); elsewhere, or when
    no row is logged there, {}."""
    fit, connector = trainer.fit_loop, trainer._logger_connector
    batches, epochs = fit.epoch_loop.batch_progress.current, fit.epoch_progress.current
    if not trainer.training:
        return {}
    if batches.processed == batches.completed + 1:  # in a batch's end hooks
        if fit._should_accumulate() or not connector.should_update_logs:
            return {}
        step = fit.epoch_loop._batches_that_stepped
    elif epochs.processed == epochs.completed + 1:  # in an epoch's end hooks
        step = fit.epoch_loop._batches_that_stepped - 1  # as Lightning logs epoch rows
    else:
        return {}
    row = convert_tensors_to_scalars(connector.metrics["log"])
    return {**row, "epoch": trainer.current_epoch, "step": step} if row else {}


class SubmoduleSummary:
    """A mixin for Lightning's ``ModelSummary`` callbacks: only the rows of the
    LightningModule's attribute ``submodule`` and its layers."""

    submodule = "net"

    def _summary(self, trainer: L.Trainer, pl_module: L.LightningModule) -> Summary:
        summary = super()._summary(trainer, pl_module)
        summary._layer_summary = {
            name: layer
            for name, layer in summary._layer_summary.items()
            if name == self.submodule or name.startswith(f"{self.submodule}.")
        }
        return summary


class ContinuingCSVLogger(CSVLogger):
    """Lightning's CSVLogger, whose writer keeps the columns already in metrics.csv.

    Adapter, and why: Lightning's writer knows the file's columns only from what it
    logged itself, in memory. A writer that did not write the file (ddp_spawn's test
    stage runs in new processes after its fit stage; a resumed run continues a file)
    rewrites it with its own columns alone when it adds one, and fails ("dict contains
    fields not in fieldnames"). Before each save this one adds the file's header to its
    columns, through the writer's public ``metrics``/``metrics_keys`` attributes;
    tests/test_loggers.py fails if Lightning changes them."""

    @rank_zero_only
    def save(self) -> None:
        writer = self.experiment
        path = Path(writer.metrics_file_path)
        if writer.metrics and path.is_file():
            with open(path, newline="") as f:
                header = next(csv.reader(f), [])
            writer.metrics_keys = sorted(set(writer.metrics_keys) | set(header))
        super().save()
