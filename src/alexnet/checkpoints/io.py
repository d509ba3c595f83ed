"""Writing checkpoint files: atomically (alexnet.atomic), fsynced, and a full disk said
in one line; Lightning's CheckpointIO plugin that does so, and hands Lightning the
checkpoint the run has already read instead of reading it again."""

import os
import shutil
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from alexnet.atomic import FULL, write_atomically
from alexnet.checkpoints.reading import Checkpoint
from alexnet.errors import UserError, causes


def tensor_bytes(value: Any) -> int:
    """The bytes of the tensors in ``value`` (a checkpoint: nested dicts and lists)."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(tensor_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(tensor_bytes(v) for v in value)
    return 0


def disk_full(checkpoint: dict[str, Any], path: Path, err: OSError) -> UserError:
    """The one line for a checkpoint that did not fit: the file, the space it needs, that
    the previous file is whole, how to go on."""
    needed, free = tensor_bytes(checkpoint) / 2**20, shutil.disk_usage(path.parent).free / 2**20
    run = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    previous = f"the previous {path.name} is intact" if path.exists() else f"no {path.name} yet"
    return UserError(
        f"no space left to write {path} ({os.strerror(err.errno)}: it needs about "
        f"{needed:.0f} MiB, {free:.0f} MiB are free); {previous}: free some space, then "
        f"continue with python train.py resume={run}"
    )


def atomic_save(checkpoint: dict[str, Any], path: str | Path) -> None:
    """``torch.save`` to ``path``, whole or not at all, on disk when it returns."""
    path = Path(path)
    try:
        write_atomically(path, lambda file: torch.save(checkpoint, file), durable=True)
    except (OSError, RuntimeError) as err:  # torch's zip writer re-raises as RuntimeError
        full = next((e for e in causes(err) if getattr(e, "errno", None) in FULL), None)
        if full is not None:
            raise disk_full(checkpoint, path, full) from None
        raise


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO with :func:`atomic_save` for writing. ``already_read``:
    the checkpoint the run resumes from, which the run has read and checked; Lightning
    gets its contents instead of reading the file again."""

    def __init__(self, already_read: Checkpoint | None = None):
        super().__init__()
        self.already_read = already_read

    def load_checkpoint(self, path, *args: Any, **kwargs: Any) -> dict[str, Any]:
        read, self.already_read = self.already_read, None  # handed over once
        if read is not None and Path(path).resolve() == read.path.resolve():
            return read.contents
        return super().load_checkpoint(path, *args, **kwargs)

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        atomic_save(checkpoint, path)
