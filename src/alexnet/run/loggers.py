"""Experiment loggers from the ``logger`` config group, W&B made safe to run anywhere."""

import csv
import netrc
import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig

from alexnet.run.console import inform


class ContinuingCSVLogger(CSVLogger):
    """Lightning's CSVLogger, whose writer keeps the columns already in metrics.csv.

    Adapter, and why: Lightning's writer knows the file's columns only from what it
    logged itself, in memory. A writer that did not write the file (ddp_spawn's test
    stage runs in new processes after its fit stage; a resumed run continues a file)
    rewrites it with its own columns alone when it adds one, and fails ("dict contains
    fields not in fieldnames"). Before each save this one adds the file's header to its
    columns, through the writer's public ``metrics``/``metrics_keys`` attributes;
    tests/test_loggers.py fails if Lightning changes them."""

    @rank_zero_only
    def save(self) -> None:
        writer = self.experiment
        path = Path(writer.metrics_file_path)
        if writer.metrics and path.is_file():
            with open(path, newline="") as f:
                header = next(csv.reader(f), [])
            writer.metrics_keys = sorted(set(writer.metrics_keys) | set(header))
        super().save()


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


def sweep_name() -> str | None:
    """The name of the running ``-m`` sweep (its directory's), or None for a single run."""
    if not HydraConfig.initialized():
        return None
    hydra = HydraConfig.get()
    return Path(hydra.sweep.dir).name if hydra.mode == RunMode.MULTIRUN else None


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
    cfg: DictConfig | None, resume_id: str | None = None, resume_step: int | None = None
) -> list[Logger]:
    """One logger per entry of the ``logger`` group. W&B goes offline by itself when
    there are no credentials (unless WANDB_MODE says otherwise) and never prompts; the
    jobs of a sweep share a W&B group named after it; ``resume_id`` continues that run.
    TensorBoard drops its events from ``resume_step`` on (the resumed run writes them
    again)."""
    loggers = []
    for name, logger_cfg in (cfg or {}).items():
        settled: dict = {}
        if "tensorboard" in name and resume_step is not None:
            settled["purge_step"] = resume_step
        if "wandb" in name:
            settled = wandb_settings(logger_cfg, resume_id)
        loggers.append(instantiate(logger_cfg, **settled))
    return loggers


def wandb_settings(logger_cfg: DictConfig, resume_id: str | None) -> dict:
    """What the run settles for its W&B logger beyond its config."""
    mode = os.environ.get("WANDB_MODE")
    offline = logger_cfg.get("offline") or mode == "offline"
    offline = offline or (not mode and not wandb_has_credentials())
    settled = {
        "offline": bool(offline),
        "group": logger_cfg.get("group") or sweep_name(),
        "job_type": logger_cfg.get("job_type") or ("sweep" if sweep_name() else "train"),
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
