"""Checkpoint files written atomically, whatever the file systems.

Lightning's ``TorchCheckpointIO`` saves through ``_atomic_save``: fsspec's local
"transaction" writes the file in the system's temporary folder (``tempfile.mkstemp``)
and then ``shutil.move``s it. That is a rename, hence atomic, only when the temporary
folder and the run directory share a file system; otherwise it is a copy, and a
process killed during it leaves a truncated last.ckpt (and a tmpfs /tmp holds the
whole checkpoint in memory meanwhile). Here the file is written next to its
destination, flushed to disk, and renamed over it with ``os.replace``.
"""

import errno
import os
import shutil
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from alexnet.run.errors import UserError, causes

if TYPE_CHECKING:
    from alexnet.checkpoints import Checkpoint

FULL = (errno.ENOSPC, errno.EDQUOT)  # no space left; over the user's quota


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


def partial_path(path: Path) -> Path:
    """Where ``path`` is written before its rename: hidden, and named by host and process,
    so that writers on several machines never share one and a dead one's is known."""
    return path.with_name(f".{path.name}.partial-{socket.gethostname()}-{os.getpid()}")


def remove_stale_partials(folder: Path) -> None:
    """Delete the partial files in ``folder`` of processes of this host that are gone (a
    writer killed mid-write leaves one, up to a checkpoint's or a shard's size)."""
    for stale in folder.glob(".*.partial-*"):
        host, _, pid = stale.name.rpartition(".partial-")[2].rpartition("-")
        if host == socket.gethostname() and pid.isdigit() and not process_alive(int(pid)):
            stale.unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


def atomic_save(checkpoint: dict[str, Any], path: str | Path) -> None:
    """``torch.save`` to ``path`` such that ``path`` is, at every moment, either the
    previous complete file or the new complete file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(path.parent)
    partial = partial_path(path)
    try:
        with open(partial, "wb") as file:
            torch.save(checkpoint, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    except (OSError, RuntimeError) as err:  # torch's zip writer re-raises as RuntimeError
        full = next((e for e in causes(err) if getattr(e, "errno", None) in FULL), None)
        if full is not None:
            partial.unlink(missing_ok=True)  # before the free space is measured
            raise disk_full(checkpoint, path, full) from None
        raise
    finally:
        partial.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself reaches the disk
    finally:
        os.close(directory)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO with :func:`atomic_save` for writing. ``already_read``:
    the checkpoint the run resumes from, which the run has read and checked; Lightning
    gets its contents instead of reading the file again."""

    def __init__(self, already_read: "Checkpoint | None" = None):
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
