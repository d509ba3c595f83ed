"""Checkpoints as data: what they record, and the one loader that rebuilds a model.

A checkpoint is a file from a stranger. It is read with ``torch.load(weights_only=True)``
only, and nothing read from it is instantiated or imported by name: the model is
looked up in the model registry, the dataset in the dataset table, and their arguments
are checked against the constructors' signatures before anything is called.

Besides Lightning's entries (``state_dict``, optimizer and loop states), every
checkpoint train.py writes holds, under ``"alexnet"``, plain data::

    {"format": 2,
     "model": {"name": "alexnet_mini", "kwargs": {"num_classes": 10, ...}},
     "data": {"name": "digits", "kwargs": {"batch_size": 64, ...}},
     "preprocessing": {"channels": 1, "resize": 32, "crop": 32, "mean": [...], ...},
     "class_names": ["0", "1", ...],
     "versions": {"torch": "2.14.1", "lightning": "2.6.6", "alexnet-lab": "0.2.0"}}

Checkpoints of the first format (before 0.2) are refused with the command that
converts them: ``python -m alexnet.checkpoints upgrade OLD.ckpt NEW.ckpt``.
"""

import argparse
import importlib.metadata
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import pydantic
import torch
from torch import nn

from alexnet.arguments import checked_arguments
from alexnet.cli import user_errors_exit_2
from alexnet.console import inform
from alexnet.data import DATASETS, dataset_name
from alexnet.errors import UserError
from alexnet.models import ModelInfo, create_model, load_weights, model_arguments, model_info

FORMAT = 2
SECTION = "alexnet"
NET_PREFIX = "net."  # the LightningModule holds the network as ``self.net``


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", strict=True)


class Built(_Strict):
    """A registered name and the keyword arguments it was built with."""

    name: str
    kwargs: dict[str, Any]


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


class Record(_Strict):
    """The ``"alexnet"`` entry of a checkpoint."""

    format: int
    model: Built
    data: Built
    preprocessing: Preprocessing
    class_names: list[str]
    versions: dict[str, str]


def versions() -> dict[str, str]:
    return {
        "torch": torch.__version__,
        "lightning": L.__version__,
        "alexnet-lab": importlib.metadata.version("alexnet-lab"),
    }


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint dict, loaded with ``weights_only=True``; a UserError if the file
    is missing, holds anything but tensors and plain containers, or lacks our record."""
    path = Path(path)
    if path.is_dir():
        last = path / "checkpoints" / "last.ckpt"
        example = last if last.is_file() else path / "<name>.ckpt"
        raise UserError(f"{path} is a folder, not a checkpoint file: give a file, e.g. {example}")
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist")
    if not zipfile.is_zipfile(path):
        raise UserError(f"{path} is not a checkpoint file (torch.save writes a zip archive)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # any unpickling failure: not a checkpoint we may read
        named = re.search(r"(?:unsupported|Unsupported global:) GLOBAL ([\w.]+)", str(err))
        reason = (
            f"it holds a pickled {named.group(1)}, which could run code"
            if named
            else (str(err).strip().splitlines() or [type(err).__name__])[0]
        )
        raise UserError(f"refusing to read checkpoint {path}: {reason}") from None
    record(checkpoint, path)  # checks the record now, before anything else reads the file
    return checkpoint


def record(checkpoint: object, path: str | Path = "the checkpoint") -> Record:
    """The checkpoint's record, checked field by field."""
    if not isinstance(checkpoint, dict):
        raise UserError(f"{path} is not a checkpoint (a {type(checkpoint).__name__})")
    if SECTION not in checkpoint:
        if "run_config" in checkpoint.get("hyper_parameters", {}):
            raise UserError(
                f"{path} is in the format of alexnet-lab before 0.2; convert it with: "
                f"python -m alexnet.checkpoints upgrade {path} <new.ckpt>"
            )
        raise UserError(f"{path} was not written by this project's train.py")
    try:
        saved = Record.model_validate(checkpoint[SECTION])
    except pydantic.ValidationError as err:
        problem = err.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise UserError(f"{path}: bad entry {SECTION}.{where}: {problem['msg']}") from None
    model_arguments(saved.model.name, saved.model.kwargs)  # a registered name, its arguments
    checked_arguments(dataset_class(saved.data.name), saved.data.kwargs, f"data {saved.data.name}")
    return saved


def net_state_dict(checkpoint: dict | str | Path) -> dict[str, torch.Tensor]:
    """The network's weights under their own names (as ``net.state_dict()`` gives), of
    a checkpoint file or dict: ``torchvision.models.alexnet(num_classes=N)
    .load_state_dict(net_state_dict("last.ckpt"))`` for an alexnet_torchvision run."""
    if not isinstance(checkpoint, dict):
        checkpoint = read_checkpoint(checkpoint)
    state = checkpoint.get("state_dict")
    if not isinstance(state, dict):
        raise UserError("the checkpoint has no state_dict")
    return {k[len(NET_PREFIX) :]: v for k, v in state.items() if k.startswith(NET_PREFIX)}


@dataclass
class LoadedModel:
    """A network rebuilt from a checkpoint, with what the tools need to use it."""

    net: nn.Module
    info: ModelInfo
    record: Record

    @property
    def input_shape(self) -> tuple[int, int, int]:
        p = self.record.preprocessing
        return (self.record.model.kwargs.get("in_channels", p.channels), p.crop, p.crop)


def load_model(path: str | Path, **overrides: Any) -> LoadedModel:
    """The one loader: the checkpoint's registered model, built from its recorded
    arguments (updated with ``overrides``, e.g. another ``num_classes`` to fine-tune),
    with its weights (a head of another shape keeps its fresh initialisation), in
    eval mode on the CPU."""
    checkpoint = read_checkpoint(path)
    saved = record(checkpoint, path)
    info = model_info(saved.model.name)
    net = create_model(saved.model.name, **{**saved.model.kwargs, **overrides})
    load_weights(net, net_state_dict(checkpoint), info, str(path))
    return LoadedModel(net.eval(), info, saved)


def dataset_class(name: str) -> type[L.LightningDataModule]:
    """The DataModule class of dataset ``name`` (a key of alexnet.data.DATASETS)."""
    if name not in DATASETS:
        raise UserError(f"dataset {name!r} is not one of {', '.join(DATASETS)}")
    return DATASETS[name]


def build_dataset(name: str, arguments: dict[str, Any]) -> L.LightningDataModule:
    """The dataset ``name``, its arguments checked first."""
    cls = dataset_class(name)
    return cls(**checked_arguments(cls, arguments, f"data {name}"))


def dataset_from(saved: Record, **overrides: Any) -> L.LightningDataModule:
    """The DataModule the checkpoint was trained on, rebuilt from its recorded
    arguments (updated with ``overrides``)."""
    return build_dataset(saved.data.name, {**saved.data.kwargs, **overrides})


class SaveRecord(L.Callback):
    """Writes the record into every checkpoint: the model's registered name and
    arguments, the dataset's, its preprocessing and class names, the versions."""

    def __init__(self, model: dict, data_kwargs: dict):
        self.model, self.data_kwargs = model, data_kwargs

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module, checkpoint: dict) -> None:
        datamodule = trainer.datamodule
        checkpoint[SECTION] = Record(
            format=FORMAT,
            model=Built(**self.model),
            data=Built(name=dataset_name(datamodule), kwargs=self.data_kwargs),
            preprocessing=Preprocessing(**datamodule.preprocessing()),
            class_names=list(datamodule.class_names),
            versions=versions(),
        ).model_dump()


# The first format named the classes to build (Hydra ``_target_`` strings). They are
# compared with these strings, never imported.
_OLD_MODELS = {
    ("alexnet.models.AlexNet", "paper"): "alexnet",
    ("alexnet.models.AlexNet", "mini"): "alexnet_mini",
    ("alexnet.models.AlexNet", "torchvision"): "alexnet_torchvision",
    ("alexnet.models.alexnet_torchvision", None): "alexnet_torchvision",
}
_NOT_ARGUMENTS = ("_target_", "arch", "weights", "freeze")


def upgrade(old_path: str | Path, new_path: str | Path) -> Path:
    """Write ``old_path`` (the format before 0.2) as a checkpoint of this format. The
    dataset it was trained on must be where it was (its preprocessing is measured)."""
    try:
        checkpoint = torch.load(old_path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise UserError(f"refusing to read checkpoint {old_path}: {err}") from None
    run_config = checkpoint.get("hyper_parameters", {}).get("run_config")
    if not isinstance(run_config, dict):
        raise UserError(f"{old_path} is not a checkpoint of the old format (no run_config)")
    model_cfg, data_cfg = dict(run_config.get("model", {})), dict(run_config.get("data", {}))
    key = (model_cfg.get("_target_"), model_cfg.get("arch"))
    name = _OLD_MODELS.get(key)
    if name is None:
        raise UserError(f"{old_path}: unknown model {key[0]!r} (arch {key[1]!r}): cannot convert")
    model = {
        "name": name,
        "kwargs": {k: v for k, v in model_cfg.items() if k not in _NOT_ARGUMENTS},
    }
    data_target = data_cfg.pop("_target_", None)
    data_name = next(
        (n for n, cls in DATASETS.items() if f"alexnet.data.{cls.__name__}" == data_target), None
    )
    if data_name is None:
        raise UserError(f"{old_path}: unknown dataset {data_target!r}: cannot convert")
    datamodule = build_dataset(data_name, data_cfg)
    datamodule.setup()  # the preprocessing may be measured on the data (preset=auto)
    saved = Record(
        format=FORMAT,
        model=Built(**model),
        data=Built(name=data_name, kwargs=data_cfg),
        preprocessing=Preprocessing(**datamodule.preprocessing()),
        class_names=list(checkpoint["hyper_parameters"].get("class_names") or []),
        versions=versions(),
    )
    net = create_model(name, **saved.model.kwargs)  # checks the arguments and the weights
    load_weights(net, net_state_dict(checkpoint), model_info(name), str(old_path))
    checkpoint[SECTION] = saved.model_dump()
    del checkpoint["hyper_parameters"]["run_config"]
    torch.save(checkpoint, new_path)
    return Path(new_path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Checkpoint tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser("upgrade", help="convert a checkpoint of alexnet-lab < 0.2")
    convert.add_argument("old", type=Path)
    convert.add_argument("new", type=Path)
    args = parser.parse_args(argv)
    with user_errors_exit_2():
        inform(f"wrote {upgrade(args.old, args.new)}")


if __name__ == "__main__":
    main()
