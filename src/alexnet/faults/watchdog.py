"""A run that stops making progress, or loses a DDP process, ends with one line.

Lightning's own child-process observer (every 5 s) SIGKILLs everything when a child
dies, with a log line and no word of which checkpoint to resume from; a child whose
parent died, or a process stuck in a collective, waits for the collective timeout
(30 minutes by default). This watchdog is a thread in every process that checks once
a second: on a started process, that its launcher still runs; everywhere, that some
batch finished within ``hang_timeout_s``; and on the launching process a thread per DDP
process it started waits for it to end. It prints what happened and ends the process
(``os._exit``: the main thread may be blocked in a collective that will never return).
"""

import os
import signal
import threading
import time
from pathlib import Path

import lightning as L

from alexnet import console
from alexnet.errors import EXIT_HUNG, EXIT_LOST_PROCESS

THREAD_NAME = "alexnet-watchdog"


def _ended_by(returncode: int) -> str:
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit status {returncode}"


def _died(local_rank: int, child) -> str:
    return (
        f"the DDP process of local rank {local_rank} (pid {child.pid}) died "
        f"({_ended_by(child.returncode)}); ending the job"
    )


class Watchdog(L.Callback):
    """Args:
    hang_timeout_s: end the run after this many seconds without a finished batch
        (None: never).
    resume_hint: where the run's last checkpoint is, for the message.
    """

    def __init__(self, hang_timeout_s: float | None, resume_hint: Path, period_s: float = 1.0):
        self.hang_timeout_s, self.resume_hint, self.period_s = hang_timeout_s, resume_hint, period_s
        self.last_progress = time.monotonic()
        self.where = "set-up"
        # Made in setup, in the process that trains (ddp_spawn pickles callbacks).
        self.stopped: threading.Event | None = None
        self.children: list = []
        self.launcher_pid: int | None = None
        self.awaited: set[int] = set()  # the children a thread waits for
        self.rank = 0

    def setup(self, trainer: L.Trainer, pl_module, stage: str) -> None:
        self.last_progress, self.stopped = time.monotonic(), threading.Event()
        launcher = trainer.strategy.launcher
        self.children = getattr(launcher, "procs", [])  # processes this one started
        started_by_lightning = os.environ.get("LOCAL_RANK", "0") != "0" and (
            "TORCHELASTIC_RUN_ID" not in os.environ and "SLURM_PROCID" not in os.environ
        )
        self.launcher_pid = os.getppid() if started_by_lightning else None
        self.rank = trainer.global_rank
        threading.Thread(target=self._watch, name=THREAD_NAME, daemon=True).start()
        for local_rank, child in enumerate(self.children, start=1):
            # A thread waiting on each child ends the job the moment it dies: Lightning's
            # observer polls every 5 s and SIGKILLs this process too, with no word of why,
            # and a once-a-second poll here could lose that race (it did once in CI).
            if child.pid not in self.awaited:
                self.awaited.add(child.pid)
                threading.Thread(
                    target=self._await_child, args=(local_rank, child), daemon=True
                ).start()

    def teardown(self, trainer, pl_module, stage: str) -> None:
        if self.stopped is not None:
            self.stopped.set()

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        """A run ended by an exception skips ``teardown``: the watch stops here, or in a
        process that goes on (a notebook, a test) it would end that process later."""
        self.teardown(trainer, pl_module, "exception")

    def _progress(self, trainer: L.Trainer, what: str) -> None:
        self.last_progress = time.monotonic()
        self.where = f"{what}, epoch {trainer.current_epoch}, step {trainer.global_step}"

    def on_train_batch_end(self, trainer, *args) -> None:
        self._progress(trainer, "training")

    def on_validation_batch_end(self, trainer, *args) -> None:
        self._progress(trainer, "validation")

    def on_test_batch_end(self, trainer, *args) -> None:
        self._progress(trainer, "test")

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._progress(trainer, "epoch start")

    def lost_process(self, wait_s: float = 0.0) -> str | None:
        """What became of a DDP process this one started that died, if one did (waiting
        up to ``wait_s`` for it to be gone: a collective may fail first)."""
        deadline = time.monotonic() + wait_s
        while True:
            for local_rank, child in enumerate(self.children, start=1):
                if child.poll() is not None and child.returncode != 0:
                    return _died(local_rank, child)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.1)

    def _await_child(self, local_rank: int, child) -> None:
        if child.wait() != 0 and not self.stopped.is_set():
            self._end(_died(local_rank, child), EXIT_LOST_PROCESS)

    def _watch(self) -> None:
        while not self.stopped.wait(self.period_s):
            if self.launcher_pid is not None and os.getppid() != self.launcher_pid:
                self._end("the DDP launcher process died; ending this process", EXIT_LOST_PROCESS)
            idle = time.monotonic() - self.last_progress
            if self.hang_timeout_s is not None and idle > self.hang_timeout_s:
                self._end(
                    f"no progress for {idle:.0f} s (hang_timeout_s={self.hang_timeout_s}; "
                    f"last: {self.where}); ending the run",
                    EXIT_HUNG,
                )

    def message(self, what: str) -> str:
        return f"[rank {self.rank}] {what}; resume from {self.resume_hint}"

    def _end(self, what: str, status: int) -> None:
        console.error(self.message(what))
        for child in self.children:
            if child.poll() is None:
                child.kill()
        os._exit(status)
