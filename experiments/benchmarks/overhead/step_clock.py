"""A callback the overhead benchmark adds to the task through the ``callbacks`` group:
the time (``time.perf_counter()``) at the start of training step ``skip`` and at the
end of every later one, so that set-up and the first steps (warm-up) are left out."""

import time

import lightning as L

#: Every clock made in this process, for the benchmark to read after the run.
MADE: list["StepClock"] = []


class StepClock(L.Callback):
    def __init__(self, skip: int = 10):
        self.skip, self.started, self.ended, self.steps = skip, None, None, 0
        MADE.append(self)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if trainer.global_step == self.skip:
            self.started = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if self.started is not None:
            self.ended, self.steps = time.perf_counter(), trainer.global_step - self.skip
