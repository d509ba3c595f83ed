"""A callback the benchmark adds to the default command through the ``callbacks``
group (``+callbacks.first_step=...``): it writes the wall-clock time (time.time()) of
the run's first training step to a file."""

import time
from pathlib import Path

import lightning as L


class FirstStepTime(L.Callback):
    def __init__(self, path: str):
        self.path = Path(path)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if not self.path.exists():
            self.path.write_text(repr(time.time()))
