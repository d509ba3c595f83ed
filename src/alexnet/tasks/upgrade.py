"""Converting a checkpoint of the first format (alexnet-lab before 0.2), which named
the classes to build as Hydra ``_target_`` strings, into this format
(``python -m alexnet.upgrade OLD.ckpt NEW.ckpt``)."""

from pathlib import Path

import torch

from alexnet.builder import build_data
from alexnet.checkpoints.reading import net_state_dict
from alexnet.checkpoints.record import FORMAT, SECTION, Preprocessing, Record, versions
from alexnet.data import DATASETS
from alexnet.errors import UserError
from alexnet.models import create_model, load_weights, model_info
from alexnet.spec import Part

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
    datamodule = build_data(Part(name=data_name, kwargs=data_cfg))
    datamodule.setup()  # the preprocessing may be measured on the data (preset=auto)
    saved = Record(
        format=FORMAT,
        model=Part(**model),
        data=Part(name=data_name, kwargs=data_cfg),
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
