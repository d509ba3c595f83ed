"""last.ckpt, the checkpoint a killed or finished run resumes from, kept current."""

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint


class LastCheckpoint(ModelCheckpoint):
    """ModelCheckpoint writing only last.ckpt: every ``every_n_train_steps`` steps and
    at the end of every training epoch. Lightning's own (2.6) rewrites last.ckpt at an
    epoch's end only when it saved a top-k checkpoint there, so a run whose final epoch
    did not improve the monitored metric ended with a last.ckpt steps behind its
    finished weights; resuming it repeated them. Subclassed (not rewritten) to keep
    ModelCheckpoint's state, atomic writes through the CheckpointIO and DDP handling."""

    def __init__(self, **kwargs):
        super().__init__(save_top_k=0, save_last=True, **kwargs)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
