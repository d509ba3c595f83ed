"""OmegaConf resolvers the configs use; registered on import."""

from pathlib import Path

import torch
from omegaconf import OmegaConf

from alexnet.config_help import config_help


def best_mixed_precision() -> str:
    """bf16-mixed on a GPU with bf16 (Ampere and newer), 16-mixed otherwise."""
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "16-mixed"


def run_dir(resume: str | None, new_dir: str) -> str:
    """The run directory of train.py: ``new_dir``, or with ``resume=<run dir>`` that
    directory (the run continues there), or with ``resume=last`` the run under the same
    runs folder whose last.ckpt was written most recently."""
    if resume is None:
        return new_dir
    if resume != "last":
        return str(resume)
    runs = Path(new_dir).parent
    found = sorted(runs.glob("*/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
    return str(found[-1].parent.parent) if found else new_dir


OmegaConf.register_new_resolver("best_mixed_precision", best_mixed_precision, replace=True)
OmegaConf.register_new_resolver("run_dir", run_dir, replace=True)
OmegaConf.register_new_resolver("config_help", config_help, replace=True)
