"""Three things Lightning 2.6 keeps private.

- **Batches done in the current epoch.** Exact mid-epoch resume needs to know how many
  training batches of the epoch the restored checkpoint had done, before the first
  batch is drawn. Lightning restores that count into its fit loop's progress tracker;
  its only public route to it is for stateful data loaders (``state_dict`` on the
  loader), which would put the epoch order into a second place in the checkpoint.
- **The training step's log row, before it is logged.** A step checkpoint is written
  in the ``on_train_batch_end`` hooks, and Lightning logs (and flushes) that batch's
  row only after them: a process killed in between resumes after a batch whose row is
  nowhere. The row is read from the logger connector's results, as Lightning then logs it.
- **A model summary of part of the module.** ``ModelSummary`` summarises the whole
  LightningModule, metric modules included; the rows are chosen in its private
  ``_summary`` hook and kept in the summary's ``_layer_summary``.
"""

import lightning as L
from lightning.fabric.utilities.apply_func import convert_tensors_to_scalars
from lightning.pytorch.utilities.model_summary import ModelSummary as Summary


def batches_done_in_epoch(trainer: L.Trainer) -> int:
    """The training batches of the current epoch the trainer has done (restored from a
    checkpoint when resuming, 0 when an epoch starts)."""
    return trainer.fit_loop.epoch_loop.batch_progress.current.ready


def unlogged_step_row(trainer: L.Trainer) -> dict[str, float | int]:
    """In a training batch's ``on_train_batch_end`` hooks: the row Lightning logs for it
    after them (its metrics, ``epoch`` and ``step``, as the CSV logger writes them);
    elsewhere, or when no row is logged for the batch, {}."""
    progress = trainer.fit_loop.epoch_loop.batch_progress.current
    connector = trainer._logger_connector
    if not trainer.training or progress.processed != progress.completed + 1:
        return {}
    if trainer.fit_loop._should_accumulate() or not connector.should_update_logs:
        return {}
    row = convert_tensors_to_scalars(connector.metrics["log"])
    if not row:
        return {}
    step = trainer.fit_loop.epoch_loop._batches_that_stepped
    return {**row, "epoch": trainer.current_epoch, "step": step}


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
