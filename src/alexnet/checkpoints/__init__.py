"""Checkpoints as data: what they record (record), reading them once, safely and
verified (reading), writing them (io: atomically; saving: the record in each)."""

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
