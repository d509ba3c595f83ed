"""Checkpoint files written atomically, whatever the file systems.

Lightning's ``TorchCheckpointIO`` saves through ``_atomic_save``: fsspec's local
"transaction" writes the file in the system's temporary folder (``tempfile.mkstemp``)
and then ``shutil.move``s it. That is a rename, hence atomic, only when the temporary
folder and the run directory share a file system; otherwise it is a copy, and a
process killed during it leaves a truncated last.ckpt (and a tmpfs /tmp holds the
whole checkpoint in memory meanwhile). Here the file is written next to its
destination, flushed to disk, and renamed over it with ``os.replace``.
"""

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO


def atomic_save(checkpoint: dict[str, Any], path: str | Path) -> None:
    """``torch.save`` to ``path`` such that ``path`` is, at every moment, either the
    previous complete file or the new complete file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        with open(partial, "wb") as file:
            torch.save(checkpoint, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself reaches the disk
    finally:
        os.close(directory)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO with :func:`atomic_save` for writing."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        atomic_save(checkpoint, path)
