"""A callback the overhead benchmark adds to the task through the ``callbacks`` group:
after each of the task's training steps from step ``skip`` on it runs one step of the
plain loop (``BETWEEN``, set by the benchmark) and times it, and it times each of the
task's steps as the interval from one step's start to the next's, less that plain
step: the two are measured step by step, side by side, so that the machine's drift
hits both alike."""

import time

import lightning as L

#: Every clock made in this process, for the benchmark to read after the run.
MADE: list["StepClock"] = []
#: The plain loop's step, which the benchmark sets before the task trains.
BETWEEN = None


class StepClock(L.Callback):
    def __init__(self, skip: int = 10):
        self.skip = skip
        self.ours: list[float] = []  # seconds of each of the task's steps
        self.plain: list[float] = []  # seconds of each plain step
        self.started: float | None = None
        MADE.append(self)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        now = time.perf_counter()
        if self.started is not None and trainer.global_step > self.skip:
            self.ours.append(now - self.started - self.plain[-1])
        self.started = now

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if BETWEEN is not None and trainer.global_step > self.skip:
            started = time.perf_counter()
            BETWEEN()
            self.plain.append(time.perf_counter() - started)
