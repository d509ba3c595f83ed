"""Experiment loggers from the ``logger`` config group, W&B made safe to run anywhere."""

import csv
import netrc
import os
import secrets
import string
import subprocess
import warnings
from pathlib import Path
from urllib.parse import urlsplit

from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import Logger, WandbLogger

from alexnet.adapters.lightning import ContinuingCSVLogger
from alexnet.console import inform


class WandbRunLogger(WandbLogger):
    """Lightning's WandbLogger, whose W&B run id is chosen when it is made (so that
    ``version`` needs no run), and which names W&B's ``group``, ``tags`` and
    ``job_type`` itself, so that checking them does not import wandb (0.3 s).
"""

    def __init__(
        self,
        *,
        group: str | None = None,
        tags: list[str] | None = None,
        job_type: str | None = None,
        **kwargs,
    ):
        if not (kwargs.get("id") or kwargs.get("version")):
            kwargs["id"] = new_run_id()
        super().__init__(group=group, tags=tags, job_type=job_type, **kwargs)
        # A W&B service of the process that started this command (a notebook, a driver
        # script: its token in WANDB_SERVICE) would hold this run: killed with SIGKILL,
        # its W&B run stayed open there and its resume failed ("run ID ... is in use").
        # The run starts a service of its own (W&B's default for a process of its own).
        os.environ.pop(WANDB_SERVICE, None)


WANDB_SERVICE = "WANDB_SERVICE"  # wandb.env.SERVICE, without importing wandb


def new_run_id() -> str:
    """A W&B run id as W&B makes them (8 of a-z0-9), without importing wandb."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))


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
    offline = config.get("offline") or mode == "offline"
    offline = offline or (not mode and not wandb_has_credentials())
    settled = {
        "offline": bool(offline),
        "group": config.get("group") or sweep,
        "job_type": config.get("job_type") or ("sweep" if sweep else "train"),
    }
    if offline:
        settled["log_model"] = False  # checkpoints upload only online
    if resume_id:
        settled.update(id=resume_id, resume="allow")
    return settled


class WandbRunIdInCheckpoint(Callback):
    """Saves the W&B run id in every checkpoint, so a resumed run continues that run."""

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        for logger in trainer.loggers:
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
