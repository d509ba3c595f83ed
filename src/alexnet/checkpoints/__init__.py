"""Checkpoints as data: what they record (record), reading them once and safely
(reading), writing the record (saving), converting the format before 0.2 (upgrade:
``python -m alexnet.checkpoints upgrade OLD.ckpt NEW.ckpt``)."""

from alexnet.checkpoints.reading import Checkpoint, net_state_dict, read_checkpoint
from alexnet.checkpoints.record import FORMAT, SECTION, Preprocessing, Record

__all__ = [
    "FORMAT",
    "SECTION",
    "Checkpoint",
    "Preprocessing",
    "Record",
    "net_state_dict",
    "read_checkpoint",
]
