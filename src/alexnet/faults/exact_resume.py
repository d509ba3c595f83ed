"""Exact resume: the random state travels in checkpoints.

The data side needs no saved state (alexnet.data.loading.sampling derives the order and the
augmentation from the seed, the epoch and the position). What remains is the global
random state that dropout draws from: it is saved with every checkpoint and put back
right before the first training batch of the resumed run, so that the steps after a
resume draw what the uninterrupted run drew.
"""

import random

import lightning as L
import numpy as np
import torch

from alexnet.adapters.lightning import unlogged_row


def random_states() -> dict:
    """Python's, NumPy's and torch's (CPU and CUDA) global random states as plain data
    (a checkpoint must load with ``weights_only=True``)."""
    name, keys, position, has_gauss, gauss = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": [name, keys.tolist(), position, has_gauss, gauss],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_random_states(states: dict) -> None:
    random.setstate(tuple(v if not isinstance(v, list) else tuple(v) for v in states["python"]))
    name, keys, position, has_gauss, gauss = states["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), position, has_gauss, gauss))
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


class ExactResume(L.Callback):
    """Saves the random states in every checkpoint; after a resume, restores them when
    the first training batch starts (after the sanity check and the loaders' set-up).
    Also writes the loggers' buffered rows when a checkpoint is saved, so that the logs
    on disk reach at least as far as the checkpoint a resumed run starts from, and keeps
    in a checkpoint the row of its batch or epoch that Lightning logs only after saving it
    (``unlogged_row``: alexnet.faults.resume adds it to the CSV log if it is missing)."""

    def __init__(self):
        self.to_restore: dict | None = None

    def state_dict(self) -> dict:
        return {"random_states": random_states()}

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module, checkpoint: dict) -> None:
        for logger in trainer.loggers:
            logger.save()
        checkpoint["unlogged_row"] = unlogged_row(trainer)

    def load_state_dict(self, state_dict: dict) -> None:
        self.to_restore = state_dict.get("random_states")

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.to_restore is not None:
            set_random_states(self.to_restore)
            self.to_restore = None
