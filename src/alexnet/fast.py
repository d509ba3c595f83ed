"""Opt-in speed-ups of the network: torch.compile with an eager fallback, channels_last."""

import torch
from torch import nn

from alexnet.console import warn
from alexnet.errors import UserError


def _first_line(err: Exception) -> str:
    return f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"


class CompiledForward:
    """``net.forward`` through ``torch.compile``; if compiling fails (no compiler, an
    unsupported op, an unknown backend), one warning and the eager forward from then on
    — or, ``strict``, a UserError that stops the run."""

    def __init__(self, net: nn.Module, backend: str = "inductor", strict: bool = False):
        self.eager, self.strict = net.forward, strict
        self.compiled = None
        try:
            self.compiled = torch.compile(net.forward, backend=backend)
        except Exception as err:  # an unknown backend fails here, the rest at the first call
            self._give_up(err)

    def _give_up(self, err: Exception) -> None:
        self.compiled = None
        if self.strict:
            raise UserError(f"compile=strict: torch.compile failed ({_first_line(err)})") from None
        warn(f"torch.compile failed, the run continues uncompiled ({_first_line(err)})")

    def __call__(self, *args, **kwargs):
        if self.compiled is not None:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as err:
                self._give_up(err)
        return self.eager(*args, **kwargs)


def compile_net(net: nn.Module, setting: bool | str = True) -> None:
    """Compile ``net``'s forward in place, as the ``compile`` config says: ``true``
    (inductor), a backend's name, or ``strict`` (inductor, and no eager fallback). Its
    parameters and state_dict keys stay as they are, so checkpoints load uncompiled."""
    if isinstance(net.forward, CompiledForward):
        return
    strict = setting == "strict"
    backend = setting if isinstance(setting, str) and not strict else "inductor"
    net.forward = CompiledForward(net, backend, strict=strict)


def to_channels_last(x):
    """4-D image batches in channels_last memory format (faster convolutions with
    cuDNN and tensor cores); anything else unchanged."""
    if isinstance(x, torch.Tensor) and x.ndim == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x
