"""The first layer's filters (the paper's Figure 3) and its feature maps of one image."""

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.utils import make_grid

from alexnet.callbacks.figures import is_chosen_epoch, save_figure


def first_conv(net: nn.Module) -> nn.Conv2d:
    return next(m for m in net.modules() if isinstance(m, nn.Conv2d))


class Conv1Filters(L.Callback):
    """At the end of chosen epochs, saves ``conv1_filters`` — every first-layer kernel,
    each scaled to [0, 1] and enlarged ``zoom`` times — and ``conv1_maps``, the first
    layer's activations for a fixed validation image.

    Args:
        every_n_epochs: draw every N epochs; 0 draws after the last epoch only.
        zoom: nearest-neighbour enlargement of each kernel.
    """

    def __init__(self, every_n_epochs: int = 0, zoom: int = 4):
        self.every_n_epochs, self.zoom = every_n_epochs, zoom
        self.sample: torch.Tensor | None = None

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, *_) -> None:
        if self.sample is None and not trainer.sanity_checking:
            self.sample = batch[0][:1].detach()  # the first validation image, kept fixed

    @torch.no_grad()
    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not (is_chosen_epoch(trainer, self.every_n_epochs) and trainer.is_global_zero):
            return
        conv = first_conv(pl_module.net)
        kernels = conv.weight.detach().float().cpu()
        kernels = F.interpolate(kernels, scale_factor=self.zoom, mode="nearest")
        grid = make_grid(kernels, nrow=16, normalize=True, scale_each=True, pad_value=1.0)
        save_figure(trainer, "conv1_filters", grid)
        if self.sample is not None:
            sample = self.sample.to(conv.weight.device)
            if sample.ndim == 5:  # several views per image: take the first
                sample = sample[:, 0]
            maps = F.relu(conv(sample.to(conv.weight.dtype)))[0].float().cpu().unsqueeze(1)
            grid = make_grid(maps, nrow=16, normalize=True, scale_each=True, pad_value=1.0)
            save_figure(trainer, "conv1_maps", grid)
