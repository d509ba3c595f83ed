"""last.ckpt, the checkpoint a killed or finished run resumes from, kept current."""

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn


class LastCheckpoint(ModelCheckpoint):
    """ModelCheckpoint writing only last.ckpt: every ``every_n_train_steps`` steps (but
    on an epoch's last batch), at the end of every training epoch but the last, and
    when training ends (whatever ended it). Lightning's own (2.6) rewrites last.ckpt at
    an epoch's end only when it saved a top-k checkpoint there, and at the end of
    training only when it never saved one, so a run with step checkpoints whose final
    epoch did not improve the monitored metric ended with a last.ckpt steps behind its
    finished weights, and resuming it repeated them. Subclassed (not rewritten) to keep
    ModelCheckpoint's state, its atomic writes through the CheckpointIO and its DDP
    handling."""

    def __init__(self, **kwargs):
        super().__init__(save_top_k=0, save_last=True, **kwargs)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx) -> None:
        # Not on an epoch's last batch: saved there, before the epoch's validation, a
        # checkpoint resumes (Lightning 2.6) without the next epoch's on_train_epoch_start
        # hooks (LearningRateMonitor's row goes missing); the epoch-end one follows.
        if batch_idx + 1 < trainer.num_training_batches:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        final = trainer.max_epochs is not None and trainer.current_epoch + 1 >= trainer.max_epochs
        if not final and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.fast_dev_run and trainer.state.fn == TrainerFn.FITTING:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
