"""Experiment loggers from the ``logger`` config group, W&B made safe to run anywhere."""

import netrc
import os
from pathlib import Path
from urllib.parse import urlsplit

from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger, WandbLogger
from omegaconf import DictConfig, open_dict
from rich.console import Console


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


def instantiate_loggers(cfg: DictConfig | None) -> list[Logger]:
    """One logger per entry of the ``logger`` group. W&B goes offline by itself when
    there are no credentials (unless WANDB_MODE says otherwise) and never prompts."""
    loggers = []
    for name, logger_cfg in (cfg or {}).items():
        if "wandb" in name and not os.environ.get("WANDB_MODE") and not wandb_has_credentials():
            with open_dict(logger_cfg):
                logger_cfg.offline = True
        loggers.append(instantiate(logger_cfg))
    return loggers


def finish_loggers(loggers: list[Logger]) -> None:
    """End the W&B run (so each job of a sweep is its own run) and say how to upload an
    offline one."""
    if not any(isinstance(logger, WandbLogger) for logger in loggers):
        return
    import wandb  # only when the W&B logger is on: it is slow to import

    run = wandb.run
    if run is None:
        return
    offline, run_dir = run.offline, Path(run.dir).parent
    run.finish()
    if offline:
        Console(soft_wrap=True).print(f"W&B logged offline. Upload with: wandb sync {run_dir}")
