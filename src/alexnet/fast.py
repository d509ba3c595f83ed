"""Opt-in speed-ups of the network: torch.compile with an eager fallback, channels_last."""

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import nn


def _first_line(err: Exception) -> str:
    return f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"


class CompiledForward:
    """``net.forward`` through ``torch.compile``; if compiling fails (no compiler, an
    unsupported op, an unknown backend), one warning and the eager forward from then on."""

    def __init__(self, net: nn.Module, backend: str = "inductor"):
        self.eager = net.forward
        self.compiled = None
        try:
            self.compiled = torch.compile(net.forward, backend=backend)
        except Exception as err:  # an unknown backend fails here, the rest at the first call
            self._give_up(err)

    def _give_up(self, err: Exception) -> None:
        self.compiled = None
        rank_zero_warn(f"torch.compile failed, the run continues uncompiled ({_first_line(err)})")

    def __call__(self, *args, **kwargs):
        if self.compiled is not None:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as err:
                self._give_up(err)
        return self.eager(*args, **kwargs)


def compile_net(net: nn.Module, backend: str = "inductor") -> None:
    """Compile ``net``'s forward in place; its parameters and state_dict keys stay as
    they are, so checkpoints load into uncompiled models."""
    if not isinstance(net.forward, CompiledForward):
        net.forward = CompiledForward(net, backend)


def to_channels_last(x):
    """4-D image batches in channels_last memory format (faster convolutions with
    cuDNN and tensor cores); anything else unchanged."""
    if isinstance(x, torch.Tensor) and x.ndim == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x
