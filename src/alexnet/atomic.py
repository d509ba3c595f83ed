"""Files written whole or not at all: each is written beside its destination under a
partial name (hidden, named by host and process, so that writers on several machines
never share one and a dead one's is known), then renamed over it with ``os.replace``.

Lightning's own ``_atomic_save`` (fsspec's local "transaction") writes in the system's
temporary folder and moves the file: a rename only when that folder and the
destination share a file system, otherwise a copy that a kill leaves truncated.
"""

import errno
import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

FULL = (errno.ENOSPC, errno.EDQUOT)  # no space left; over the user's quota


def partial_path(path: Path) -> Path:
    """Where ``path`` is written before its rename."""
    return path.with_name(f".{path.name}.partial-{socket.gethostname()}-{os.getpid()}")


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


def remove_stale_partials(folder: Path) -> None:
    """Delete the partial files (and folders) in ``folder`` of processes of this host
    that are gone (a writer killed mid-write leaves one, up to a checkpoint's or a
    shard's size)."""
    for stale in folder.glob(".*.partial-*"):
        host, _, pid = stale.name.rpartition(".partial-")[2].rpartition("-")
        if host == socket.gethostname() and pid.isdigit() and not process_alive(int(pid)):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)


def write_atomically(
    path: Path, write: Callable[[BinaryIO], object], durable: bool = False
) -> None:
    """Call ``write`` on the open partial file of ``path``, then rename it over ``path``:
    ``path`` is, at every moment, the previous whole file or the new one. ``durable``:
    the bytes and the rename reach the disk before this returns (fsync), as a
    checkpoint's must."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(path.parent)
    partial = partial_path(path)
    try:
        with open(partial, "wb") as file:
            write(file)
            if durable:
                file.flush()
                os.fsync(file.fileno())
        os.replace(partial, path)
    except OSError as err:
        raise failure_to_write(err, path) from err
    finally:
        partial.unlink(missing_ok=True)
    if durable:
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself
        finally:
            os.close(directory)


FULL_BELOW = 2**20  # bytes free under which a disk is full: no file of ours fits


def failure_to_write(err: OSError, path: Path) -> OSError:
    """``err`` as the failure to write ``path`` (not its partial file); a short write
    that says no more (numpy's) is, when the disk is full, the full disk it is."""
    code = err.errno
    if code is None and shutil.disk_usage(path.parent).free < FULL_BELOW:
        code = errno.ENOSPC
    return OSError(code, os.strerror(code), str(path)) if code is not None else err


def write_text_quietly(path: Path, text: str) -> None:
    """A cache file written whole; a folder that cannot be written only costs the
    measurement next time."""
    try:
        write_atomically(path, lambda file: file.write(text.encode()))
    except OSError:
        pass
