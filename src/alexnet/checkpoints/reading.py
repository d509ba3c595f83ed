"""Reading a checkpoint: a file from a stranger, read once per command.

Its bytes are verified first (each record against the CRC the zip archive holds for
it: a disk or a copy that damaged it), it is loaded with ``torch.load(weights_only=True)``
only, its network's weights must be finite, and its record is checked before anything
else reads it; nothing read from it is instantiated or imported by name. The
:class:`Checkpoint` is then handed to whatever needs it: the builder (the network's
weights), Lightning when resuming (through the run's checkpoint IO), the loggers (the
W&B run id, the step).
"""

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from alexnet.checkpoints.record import Record, checked_record
from alexnet.errors import UserError

NET_PREFIX = "net."  # the LightningModule holds the network as ``self.net``


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint file's contents and its checked record."""

    path: Path
    contents: dict[str, Any]
    record: Record

    @property
    def global_step(self) -> int:
        return int(self.contents["global_step"])


def read_checkpoint(path: str | Path) -> Checkpoint:
    """The checkpoint at ``path``; a UserError if the file is missing, holds anything
    but tensors and plain containers, or lacks a valid record."""
    path = Path(path)
    if path.is_dir():
        last = path / "checkpoints" / "last.ckpt"
        example = last if last.is_file() else path / "<name>.ckpt"
        raise UserError(f"{path} is a folder, not a checkpoint file: give a file, e.g. {example}")
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist")
    if not zipfile.is_zipfile(path):
        raise UserError(f"{path} is not a checkpoint file (torch.save writes a zip archive)")
    check_bytes(path)
    try:
        contents = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # any unpickling failure: not a checkpoint we may read
        named = re.search(r"(?:unsupported|Unsupported global:) GLOBAL ([\w.]+)", str(err))
        reason = (
            f"it holds a pickled {named.group(1)}, which could run code"
            if named
            else (str(err).strip().splitlines() or [type(err).__name__])[0]
        )
        raise UserError(f"refusing to read checkpoint {path}: {reason}") from None
    checkpoint = Checkpoint(path, contents, checked_record(contents, path))
    check_finite(checkpoint)
    return checkpoint


def check_bytes(path: Path) -> None:
    """A UserError naming ``path`` if a record of the archive does not match its CRC
    (torch.save computes one for each; a record saved without, CRC 0, is not checked)."""
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.CRC:
                    with archive.open(info) as record:  # checks the CRC at its end
                        while record.read(2**24):
                            pass
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise UserError(
            f"checkpoint {path} is damaged ({err}): its bytes are not those saved; use another "
            "checkpoint of the run (its best one, or a copy)"
        ) from None


def check_finite(checkpoint: Checkpoint) -> None:
    """A UserError naming the file if a weight of its network is NaN or infinite."""
    for name, tensor in net_state_dict(checkpoint).items():
        floating = isinstance(tensor, torch.Tensor) and tensor.is_floating_point()
        if floating and not torch.isfinite(tensor).all():
            raise UserError(
                f"checkpoint {checkpoint.path} holds weights that are not finite ({name}); "
                "use an earlier checkpoint of the run (training stops before saving such "
                "weights: this file was changed after)"
            )


def net_state_dict(checkpoint: Checkpoint | dict | str | Path) -> dict[str, torch.Tensor]:
    """The network's weights under their own names (as ``net.state_dict()`` gives):
    ``torchvision.models.alexnet(num_classes=N).load_state_dict(net_state_dict(
    "last.ckpt"))`` for an alexnet_torchvision run."""
    if isinstance(checkpoint, (str, Path)):
        checkpoint = read_checkpoint(checkpoint)
    contents = checkpoint.contents if isinstance(checkpoint, Checkpoint) else checkpoint
    state = contents.get("state_dict")
    if not isinstance(state, dict):
        raise UserError("the checkpoint has no state_dict")
    return {k[len(NET_PREFIX) :]: v for k, v in state.items() if k.startswith(NET_PREFIX)}
