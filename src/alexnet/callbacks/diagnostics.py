"""Per-layer activation statistics and gradient norms, and whether the response
normalisation acts, logged as metrics."""

import lightning as L
import torch
from lightning.pytorch.utilities import grad_norm
from torch import nn

from alexnet.models.layers import acting_shares

ACTIVATIONS = (nn.ReLU, nn.Tanh, nn.GELU, nn.SiLU, nn.LeakyReLU)


class TrainingDiagnostics(L.Callback):
    """Every ``every_n_steps`` training steps, logs for each activation layer of the net
    ``act/<layer>/mean``, ``act/<layer>/std`` and ``act/<layer>/dead`` (the fraction of
    outputs that are exactly zero: dead ReLUs), and ``grad_2.0_norm/<parameter>`` plus
    the total gradient norm (Lightning's ``grad_norm``)."""

    def __init__(self, every_n_steps: int = 50):
        self.every_n_steps = every_n_steps
        self.handles: list = []
        self.stats: dict[str, torch.Tensor] = {}
        self.recording = False

    def _due(self, trainer: L.Trainer) -> bool:
        return trainer.global_step % self.every_n_steps == 0

    def on_fit_start(self, trainer, pl_module) -> None:
        for name, module in pl_module.net.named_modules():
            if isinstance(module, ACTIVATIONS):
                self.handles.append(module.register_forward_hook(self._hook(name)))

    def _hook(self, name: str):
        def record(module, inputs, output: torch.Tensor) -> None:
            if self.recording:
                out = output.detach().float()
                self.stats[f"act/{name}/mean"] = out.mean()
                self.stats[f"act/{name}/std"] = out.std()
                self.stats[f"act/{name}/dead"] = (out == 0).float().mean()

        return record

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.recording = self._due(trainer)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.stats:
            pl_module.log_dict(self.stats, on_step=True, on_epoch=False)
        self.stats, self.recording = {}, False

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if self._due(trainer):
            pl_module.log_dict(grad_norm(pl_module.net, norm_type=2), on_step=True, on_epoch=False)

    def on_fit_end(self, trainer, pl_module) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []


class ResponseNormDiagnostics(L.Callback):
    """Whether the network's response normalisation (LRN) acts: after every validation
    epoch, on its first batch, logs ``lrn/acting`` — the share of positions where the
    divisor ``(k + α·Σa²)^β`` differs from ``k^β`` by more than 5% — and
    ``lrn/<layer>/acting`` for each layer. Near 0, the layers only multiply by the
    constant ``k^-β`` (standardised inputs with the paper's constants do that; see
    alexnet.models.alexnet). Networks without such layers log nothing."""

    def __init__(self) -> None:
        self.images: torch.Tensor | None = None

    def on_validation_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ) -> None:
        if batch_idx == 0 and not trainer.sanity_checking:
            self.images = batch[0]

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if self.images is None:
            return
        shares, self.images = acting_shares(pl_module.net, self.images), None
        named = {f"lrn/{name}/acting" if name else "lrn/acting": v for name, v in shares.items()}
        if named:
            pl_module.log_dict(named, sync_dist=True)
