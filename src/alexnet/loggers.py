"""Experiment loggers from the ``logger`` config group, W&B made safe to run anywhere."""

import csv
import netrc
import os
import secrets
import string
import subprocess
import threading
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import Logger, WandbLogger
from lightning.pytorch.utilities import rank_zero_only

from alexnet.adapters.lightning import ContinuingCSVLogger
from alexnet.console import inform


class BackgroundWandbLogger(WandbLogger):
    """Lightning's WandbLogger, whose W&B run starts on a thread of its own once training
    is under way (``start_in_background``, called after the first training step by
    :class:`WandbRunCallback`), not before the first step: importing wandb and starting
    an offline run take 1 to 1.5 s of CPU on 2 cores. Until the run has started, what is
    logged waits its turn (on that thread once it runs), ``experiment`` is a stand-in
    that starts the run and waits for it when first used (Lightning asks for
    ``experiment`` at set-up without using it); ``version`` is the run's id, chosen
    here. An error in starting the run is raised where it is used.

    Args (besides WandbLogger's): ``group``, ``tags`` and ``job_type``, W&B's, named
    here so that checking them does not import wandb."""

    def __init__(
        self,
        *,
        group: str | None = None,
        tags: list[str] | None = None,
        job_type: str | None = None,
        **kwargs,
    ):
        if not (kwargs.get("id") or kwargs.get("version")):  # ``version`` knows it unstarted
            kwargs["id"] = new_run_id()
        super().__init__(group=group, tags=tags, job_type=job_type, **kwargs)
        self._queued: list | None = []  # logging calls made before the start; None after
        self._background: ThreadPoolExecutor | None = None  # while the run starts
        self._start: Future | None = None

    @rank_zero_only
    def log_hyperparams(self, params) -> None:
        self._in_turn(super().log_hyperparams, params)

    @rank_zero_only
    def log_metrics(self, metrics, step: int | None = None) -> None:
        self._in_turn(super().log_metrics, dict(metrics), step)

    def _in_turn(self, log, *args) -> None:
        """``log(*args)`` after the calls waiting for the run, or now."""
        if _on_background_thread():
            log(*args)
        elif self._queued is not None:
            self._queued.append((log, args))
        elif self._background is not None:
            self._background.submit(self._if_started, log, args)
        else:
            log(*args)

    def _if_started(self, log, args: tuple) -> None:
        """On the starting thread: ``log(*args)`` unless the run failed to start (which
        the run's first user hears of; trying to start it again here would only fail
        again)."""
        if self._experiment is not None:
            log(*args)

    def start_in_background(self) -> None:
        """Start the run on its thread (once), then log what waits for it there."""
        if self._queued is None:
            return
        queued, self._queued = self._queued, None
        self._background = ThreadPoolExecutor(1, thread_name_prefix=BACKGROUND)
        self._start = self._background.submit(self._start_run, queued)

    def _start_run(self, queued: list) -> None:
        super().experiment  # noqa: B018  (Lightning's WandbLogger creates the run here)
        for log, args in queued:
            self._if_started(log, args)

    def started_run(self):
        """The W&B run, started (now, if it was not) and what was logged before it."""
        if not _on_background_thread():
            self.start_in_background()
        if self._background is not None and not _on_background_thread():
            self._background.shutdown(wait=True)
            start, self._background, self._start = self._start, None, None
            start.result()  # raises what starting raised
        return super().experiment

    @property
    def experiment(self):
        starting = self._queued is not None or self._background is not None
        if starting and not _on_background_thread():
            return _RunOnceStarted(self)
        return self.started_run()

    def __getstate__(self) -> dict:  # ddp_spawn pickles loggers: no thread, no queue
        self.started_run()
        return super().__getstate__()


BACKGROUND = "wandb-start"


def new_run_id() -> str:
    """A W&B run id as W&B makes them (8 of a-z0-9), without importing wandb."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))


def _on_background_thread() -> bool:
    return threading.current_thread().name.startswith(BACKGROUND)


class _RunOnceStarted:
    """What ``BackgroundWandbLogger.experiment`` gives until the run has started: the
    run's attributes, each starting the run and waiting for it first."""

    def __init__(self, logger: BackgroundWandbLogger):
        self._logger = logger

    def __getattr__(self, name: str):
        return getattr(self._logger.started_run(), name)


def wandb_has_credentials() -> bool:
    """Whether W&B could log in without asking: an API key in the environment or a
    ``wandb login`` entry in the netrc file for the configured host."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlsplit(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).netloc
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def git_commit() -> str | None:
    """The commit the code runs at, with ``-dirty`` if the work tree has changes."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=40"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def instantiate_loggers(
    configs: dict[str, dict | None] | None,
    sweep: str | None = None,
    resume_id: str | None = None,
    resume_step: int | None = None,
) -> list[Logger]:
    """One logger per entry of the ``logger`` group. W&B goes offline by itself when
    there are no credentials (unless WANDB_MODE says otherwise) and never prompts; the
    jobs of the ``sweep`` share a W&B group named after it; ``resume_id`` continues that
    run. TensorBoard drops its events from ``resume_step`` on (the resumed run writes
    them again)."""
    loggers = []
    for name, config in (configs or {}).items():
        if config is None:
            continue
        settled: dict = {}
        if "tensorboard" in name and resume_step is not None:
            settled["purge_step"] = resume_step
        if "wandb" in name:
            settled = wandb_settings(config, sweep, resume_id)
        loggers.append(instantiate(config, **settled))
    return loggers


def wandb_settings(config: dict, sweep: str | None, resume_id: str | None) -> dict:
    """What the run settles for its W&B logger beyond its config."""
    mode = os.environ.get("WANDB_MODE")
    # ("dryrun": what Lightning's logger leaves in the environment for an offline run, so
    # that the next job of a sweep in the same process finds it)
    offline = config.get("offline") or mode in ("offline", "dryrun")
    offline = offline or (not mode and not wandb_has_credentials())
    settled = {
        "offline": bool(offline),
        "group": config.get("group") or sweep,
        "job_type": config.get("job_type") or ("sweep" if sweep else "train"),
    }
    if offline or mode == "disabled":
        # checkpoints upload only online; W&B stages a copy of each it is given (in
        # ~/.local/share/wandb) even when the run is disabled, and never removes it
        settled["log_model"] = False
    if resume_id:
        settled.update(id=resume_id, resume="allow")
    return settled


class WandbRunCallback(Callback):
    """Starts the W&B run after the first training step (BackgroundWandbLogger), and
    saves its id in every checkpoint, once the run has started, so that a resumed run
    continues that run."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        for logger in trainer.loggers:
            if isinstance(logger, BackgroundWandbLogger):
                logger.start_in_background()

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        for logger in trainer.loggers:
            if isinstance(logger, BackgroundWandbLogger) and rank_zero_only.rank == 0:
                # No checkpoint names a W&B run still starting (by the first checkpoint
                # the start has long finished: this waits for nothing, in practice).
                logger.started_run()
            if isinstance(logger, WandbLogger):
                checkpoint["wandb_run_id"] = logger.version


def summarise_run(loggers: list[Logger], summary: dict[str, float | int | str]) -> None:
    """Put the run's headline figures in its W&B summary (the columns a dashboard's runs
    table sorts and compares by)."""
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            logger.experiment.summary.update(summary)


def finish_loggers(loggers: list[Logger], exit_code: int = 0) -> None:
    """End the W&B run (so each job of a sweep is its own run; a run stopped early is
    marked with its exit code) and say how to upload an offline one."""
    if not any(isinstance(logger, WandbLogger) for logger in loggers):
        return
    for logger in loggers:  # a run that stopped before its first step: its W&B run too
        if isinstance(logger, BackgroundWandbLogger) and rank_zero_only.rank == 0:
            logger.started_run()
    import wandb  # only when the W&B logger is on: it is slow to import

    run = wandb.run
    if run is None:
        return
    offline, run_dir = run.offline, Path(run.dir).parent
    run.finish(exit_code=exit_code)
    if offline:
        inform(f"W&B logged offline. Upload with: wandb sync {run_dir}")


def continue_csv_log(logger: ContinuingCSVLogger, step: int, unlogged_row: dict) -> None:
    """Keep the rows of ``logger``'s existing metrics.csv before ``step`` (the resumed
    run writes the others again), add the checkpoint's ``unlogged_row`` if the killed
    run died before writing it, and let the logger append to them.
    (Lightning's CSV writer deletes an existing file when it starts.)"""
    metrics_csv = Path(logger.log_dir) / "metrics.csv"
    if not metrics_csv.is_file():
        return
    with open(metrics_csv, newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = list(reader.fieldnames or []), list(reader)
    kept = [row for row in rows if not row.get("step") or int(row["step"]) < step]
    written = {k: str(v) for k, v in unlogged_row.items()}
    if written and not any({k: v for k, v in row.items() if v} == written for row in kept):
        kept.append(written)
        fields = list({*fields, *written})
    with warnings.catch_warnings():  # "Previous log files ... will be deleted": not these
        warnings.filterwarnings("ignore", message=r".*Previous log files in this directory")
        logger.experiment  # noqa: B018  (creating Lightning's writer deletes the file)
    with open(metrics_csv, "w", newline="") as f:  # the logger continues from its header
        out = csv.DictWriter(f, fieldnames=sorted(fields))
        out.writeheader()
        out.writerows(kept)
