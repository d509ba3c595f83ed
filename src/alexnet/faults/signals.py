"""SIGTERM (a cluster's or a spot instance's notice) and SIGINT (Ctrl-C): checkpoint at
the next step boundary, say how to resume, exit with 128 + the signal's number.

Lightning's own handling is not enough: Ctrl-C raises KeyboardInterrupt wherever the
program is (possibly inside an optimizer step) and ends with status 1, and SIGTERM
stops the loop without a checkpoint. Here a signal only sets a flag; the flag is read
(and, under DDP, agreed by every process) where a checkpoint is consistent: at the end
of a training batch or of a validation run, the points where ModelCheckpoint saves.
Under SLURM (``SLURM_JOB_ID`` set) the job then requeues itself with ``scontrol requeue``
and the requeued job resumes from the run directory's last.ckpt.

Under submitit (Hydra's ``launcher=slurm`` or ``submitit_local``), submitit's own notice
of preemption or time-out (SIGUSR2 by default) is caught too: the run checkpoints, then
hands over to submitit's handler, which requeues the job; the job starts again in the
same folder and resumes from last.ckpt.
"""

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import lightning as L

from alexnet.console import warn
from alexnet.errors import Preempted, StoppedBySignal

SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def signals_past_lightning() -> Iterator[None]:
    """While Lightning fits, tests or validates: Ctrl-C and SIGTERM raise
    :class:`StoppedBySignal`, which Lightning lets through after its teardown, so that the
    command ends in its one line and status 128 + the signal (alexnet.run.interrupts).
    Python's own KeyboardInterrupt is caught by Lightning's loops, which end with status 1
    (lightning.pytorch.trainer.call). While it trains, CheckpointOnSignal takes over."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise StoppedBySignal(signum)

    previous = {signum: signal.signal(signum, stop) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def submitit_signal() -> int | None:
    """The signal submitit sends before preempting the job, when submitit runs it."""
    if not os.environ.get("SUBMITIT_EXECUTOR"):
        return None
    from submitit import JobEnvironment

    return getattr(signal, f"SIG{JobEnvironment.USR_SIG}")  # SUBMITIT_PREEMPT_SIGNAL, USR2


class CheckpointOnSignal(L.Callback):
    """Turns SIGTERM and SIGINT into a checkpoint and a :class:`Preempted` exception.

    Args:
        checkpoint: where to write it (the run's ``checkpoints/last.ckpt``).
        slurm_requeue: under SLURM, requeue the job after writing the checkpoint.
    """

    def __init__(self, checkpoint: Path, slurm_requeue: bool = True):
        self.checkpoint, self.slurm_requeue = Path(checkpoint), slurm_requeue
        self.received: int | None = None
        self.submitit: int | None = None  # submitit's preemption signal, under submitit
        self.previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise StoppedBySignal(signum)  # a second Ctrl-C: stop at once
        self.received = signum
        warn(
            f"{signal.Signals(signum).name} received: stopping after this step "
            "with a checkpoint (Ctrl-C again to abort at once)"
        )

    def on_train_start(self, trainer, pl_module) -> None:
        self.submitit = submitit_signal()
        for signum in (*SIGNALS, self.submitit) if self.submitit else SIGNALS:
            self.previous[signum] = signal.signal(signum, self._handle)

    def _restore_handlers(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.previous = {}

    def on_train_end(self, trainer, pl_module) -> None:
        self._restore_handlers()

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._restore_handlers()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._stop_if_signalled(trainer)

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self._stop_if_signalled(trainer)

    def _stop_if_signalled(self, trainer: L.Trainer) -> None:
        # Every process must agree, or the others would wait in the next collective.
        if not trainer.strategy.reduce_boolean_decision(self.received is not None, all=False):
            return
        signum = self.received or signal.SIGTERM  # another process got it
        trainer.save_checkpoint(self.checkpoint, weights_only=False)  # (else Lightning logs a line)
        if signum == self.submitit:  # submitit requeues the job (and exits)
            handler = self.previous[signum]
            self._restore_handlers()
            handler(signum, None)
        requeued = self.slurm_requeue and signum == signal.SIGTERM and requeue_slurm_job()
        name = signal.Signals(signum).name
        what = (
            "the SLURM job is requeued and will resume from it"
            if requeued
            else ("resume with the same command and resume=" + str(self.checkpoint.parent.parent))
        )
        raise Preempted(
            f"stopped by {name} at epoch {trainer.current_epoch}, step {trainer.global_step}; "
            f"checkpoint {self.checkpoint}; {what}",
            128 + signum,
        )


def requeue_slurm_job() -> bool:
    """``scontrol requeue $SLURM_JOB_ID`` when running as a SLURM job (rank 0 only)."""
    job = os.environ.get("SLURM_JOB_ID")
    if not job or int(os.environ.get("SLURM_PROCID", "0")) != 0:
        return bool(job)
    array = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array:
        job = f"{array}_{os.environ.get('SLURM_ARRAY_TASK_ID', '')}"
    try:
        done = subprocess.run(["scontrol", "requeue", job], capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0
