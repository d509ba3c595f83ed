"""Saving a figure into the run directory, and to W&B when it is on."""

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import WandbLogger
from torchvision.utils import save_image


def is_chosen_epoch(trainer: L.Trainer, every_n_epochs: int) -> bool:
    """Every ``every_n_epochs`` epochs, or only the last epoch when it is 0 (the same
    answer on every DDP rank, so that collective metric syncs stay in step)."""
    if trainer.sanity_checking:
        return False
    epoch = trainer.current_epoch
    if every_n_epochs > 0:
        return (epoch + 1) % every_n_epochs == 0
    return epoch + 1 >= (trainer.max_epochs or 1) or bool(trainer.fast_dev_run)


def save_figure(trainer: L.Trainer, name: str, figure) -> Path:
    """Write ``figure`` (a (C, H, W) image tensor in [0, 1] or a matplotlib Figure) as
    ``<run dir>/figures/<name>_epoch<NNN>.png`` and log it to W&B as ``figures/<name>``."""
    path = (
        Path(trainer.default_root_dir) / "figures" / f"{name}_epoch{trainer.current_epoch:03d}.png"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(figure, torch.Tensor):
        save_image(figure, path)
    else:
        import matplotlib.pyplot as plt

        figure.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(figure)
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key=f"figures/{name}", images=[str(path)], step=trainer.global_step)
    return path
