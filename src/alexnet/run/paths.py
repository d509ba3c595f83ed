"""A failure of the file system in one line: the path, what is wrong with it, and the
option that puts it elsewhere. A command writes into a few places only — its run
folder (``paths.log_dir``, under ``ALEXNET_ROOT`` or the current folder), the data
directory and its caches (``ALEXNET_DATA_DIR``), prepared copies
(``data.prepared.dir``), an export's target (``out``), a study's journal
(``hydra.sweeper.storage``) — and each has its way out, named here once for every
command (tests/test_failure_matrix.py tries each place with each fault)."""

import errno
import os
import sys
from pathlib import Path

#: The faults a user can mend; anything else keeps its traceback.
NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)
FULL = (errno.ENOSPC, errno.EDQUOT)
IN_THE_WAY = (errno.ENOTDIR, errno.EEXIST, errno.EISDIR)

#: Options that put a place elsewhere, and how a user gives them.
OPTIONS = {
    "out": "give out=<a folder you can write>",
    "data.prepared.dir": "give data.prepared.dir=<a folder you can write>",
    "hydra.sweeper.storage": "give hydra.sweeper.storage=journal:<a file you can write>",
    "hydra.sweep.dir": "give hydra.sweep.dir=<a folder you can write>",
    "hydra.run.dir": "give hydra.run.dir=<a folder you can write>",
    "paths.data_dir": "give paths.data_dir=<a folder you can write>",
    "paths.log_dir": "give paths.log_dir=<a folder you can write>",
}


def places(arguments: list[str]) -> list[tuple[Path, str]]:
    """Where this command writes, with each place's way out: the options on its command
    line, then the environment's and the defaults (the data directory, the logs, the
    folder it runs in)."""
    given = dict(a.lstrip("+").split("=", 1) for a in arguments if "=" in a)
    found = [
        (Path(given[key].removeprefix("journal:")), hint)
        for key, hint in OPTIONS.items()
        if given.get(key) and "://" not in given[key]
    ]
    root = Path(os.environ.get("ALEXNET_ROOT", os.getcwd()))
    data = os.environ.get("ALEXNET_DATA_DIR")
    if data:
        found.append((Path(data), "set ALEXNET_DATA_DIR to a folder you can write"))
    root_hint = "set ALEXNET_ROOT" if "ALEXNET_ROOT" in os.environ else "run it from"
    found.append((root, f"{root_hint} a folder you can write (or give paths.log_dir=<one>)"))
    return found


def way_out(path: Path, arguments: list[str]) -> str:
    """The way out for ``path``: that of the innermost place it is in."""
    inside = [(place, hint) for place, hint in places(arguments) if _within(path, place)]
    if not inside:
        return "give the command a place you can write"
    return max(inside, key=lambda found: len(str(found[0])))[1]


def _within(path: Path, place: Path) -> bool:
    return Path(os.path.abspath(path)).is_relative_to(os.path.abspath(place))


def blocking_file(path: Path) -> Path | None:
    """The file that stands where ``path`` needs a folder (``path`` or one above)."""
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return None if candidate.is_dir() else candidate
    return None


def file_system_line(
    err: OSError, writing: Path | None = None, arguments: list[str] | None = None
) -> str | None:
    """The one line for ``err`` if it is a fault of a place the user can mend (a folder
    that cannot be written, a full disk, a file in the way), else None. A full disk
    found while a file was flushed names no file: ``writing`` (the run folder) then."""
    if err.errno not in (*NOT_WRITABLE, *FULL, *IN_THE_WAY):
        return None
    if err.filename is None and (err.errno not in FULL or writing is None):
        return None
    path = Path(os.fsdecode(err.filename)) if err.filename is not None else writing
    hint = way_out(path, sys.argv[1:] if arguments is None else arguments)
    if err.errno in FULL:
        return f"no space left to write {path} ({err.strerror}): free some space, or {hint}"
    if err.errno in IN_THE_WAY:
        blocker = blocking_file(path)
        if blocker is None:
            return None
        return f"{blocker} is a file where a folder should be: move it away, or {hint}"
    return f"cannot write {path} ({err.strerror}): {hint}"
