"""What a checkpoint records besides Lightning's entries: plain data, under
``"alexnet"``::

    {"format": 3,
     "model": {"name": "alexnet_mini", "kwargs": {"num_classes": 10, ...}},
     "data": {"name": "digits", "kwargs": {"batch_size": 64, ...}},
     "preprocessing": {"channels": 1, "resize": 32, "crop": 32, "mean": [...], ...},
     "class_names": ["0", "1", ...],
     "versions": {"torch": "2.14.1", "lightning": "2.6.6", "alexnet-lab": "0.3.0"},
     "training": {"seed": 42, "optimizer": {...}, "scheduler": {...}, "trainer": {...}, ...},
     "fingerprint": {"classes": ["0", ...], "counts": {"train": 1257, ...}, "digest": "..."},
     "study": {"storage": "sqlite:///...", "name": "...", "id": "...", "trial": 3}}

``model`` and ``data`` are the spec's parts (alexnet.spec): a registered name and its
arguments, checked against the constructor before anything is called. ``training``,
``fingerprint`` and ``study`` (format 3; None in a sweep's trial's absence) are the run's
identity, which a command that continues the run checks (alexnet.checkpoints.identity).
"""

import importlib.metadata
from pathlib import Path
from typing import Any

import lightning as L
import pydantic
import torch

from alexnet.arguments import checked_arguments
from alexnet.data import dataset_class
from alexnet.errors import UserError
from alexnet.models import model_arguments
from alexnet.spec import Part

FORMAT = 3
SECTION = "alexnet"


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", strict=True)


class Preprocessing(_Strict):
    """How a new image becomes model input, as the evaluation split was prepared:
    grayscale if ``channels`` is 1, shorter side to ``resize``, centre ``crop``,
    scale to [0, 1], normalise with ``mean`` and ``std``."""

    channels: int
    resize: int
    crop: int
    mean: list[float]
    std: list[float]
    preset: str


class Fingerprint(_Strict):
    """The data a run read: its class names in order, the images of each split, and a
    digest of their contents (the files' names and sizes, a prepared copy's source, an
    in-memory dataset's pixels and labels)."""

    classes: list[str]
    counts: dict[str, int]
    digest: str


class Record(_Strict):
    """The ``"alexnet"`` entry of a checkpoint."""

    format: int
    model: Part
    data: Part
    preprocessing: Preprocessing
    class_names: list[str]
    versions: dict[str, str]
    training: dict[str, Any] | None = None  # format 2 has none of these three
    fingerprint: Fingerprint | None = None
    study: dict[str, Any] | None = None


def versions() -> dict[str, str]:
    return {
        "torch": torch.__version__,
        "lightning": L.__version__,
        "alexnet-lab": importlib.metadata.version("alexnet-lab"),
    }


def format_2_data(data: object) -> object:
    """A format-2 record's data part in this format: the prepared copy's options, once
    flat (``prepared_size``, ...), are ``prepared``'s (``size``, ...)."""
    if not isinstance(data, dict) or not isinstance(data.get("kwargs"), dict):
        return data
    kwargs = dict(data["kwargs"])
    copy = {
        k.removeprefix("prepared_"): kwargs.pop(k)
        for k in list(kwargs)
        if k.startswith("prepared_")
    }
    if "prepared" in kwargs and not isinstance(kwargs["prepared"], dict):
        copy["use"] = kwargs.pop("prepared")
    return {**data, "kwargs": {**kwargs, "prepared": copy} if copy else kwargs}


def checked_record(checkpoint: object, path: str | Path) -> Record:
    """The record of a loaded checkpoint, checked field by field, its model and dataset
    names registered and their arguments accepted by their constructors."""
    if not isinstance(checkpoint, dict):
        raise UserError(f"{path} is not a checkpoint (a {type(checkpoint).__name__})")
    if SECTION not in checkpoint:
        if "run_config" in checkpoint.get("hyper_parameters", {}):
            raise UserError(
                f"{path} is in the format of alexnet-lab before 0.2; convert it with: "
                f"python -m alexnet.upgrade {path} <new.ckpt>"
            )
        raise UserError(f"{path} was not written by this project's train.py")
    if isinstance(checkpoint[SECTION], dict) and checkpoint[SECTION].get("format") == 2:
        checkpoint[SECTION]["data"] = format_2_data(checkpoint[SECTION].get("data"))
    try:
        saved = Record.model_validate(checkpoint[SECTION])
    except pydantic.ValidationError as err:
        problem = err.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise UserError(f"{path}: bad entry {SECTION}.{where}: {problem['msg']}") from None
    model_arguments(saved.model.name, saved.model.kwargs)
    checked_arguments(dataset_class(saved.data.name), saved.data.kwargs, f"data {saved.data.name}")
    return saved
