"""Loading this project's checkpoints back into a model (weights only, no pickled code)."""

from pathlib import Path

import torch
from hydra.utils import instantiate

from alexnet.errors import UserError
from alexnet.module import ClassifierModule


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint dict, loaded with ``weights_only=True``; user errors if it is
    missing or was not written by train.py."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"ckpt_path={path} does not exist")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any unpickling failure means "not a checkpoint of ours"
        raise UserError(f"cannot read checkpoint {path}: {err}") from None
    if "run_config" not in checkpoint.get("hyper_parameters", {}):
        raise UserError(f"{path} was not written by this project's train.py (no run_config)")
    return checkpoint


def load_classifier(checkpoint: dict) -> ClassifierModule:
    """The ClassifierModule of a checkpoint, its net rebuilt from the saved model config."""
    hparams = checkpoint["hyper_parameters"]
    model_cfg = dict(hparams["run_config"]["model"])
    model_cfg.pop("weights", None)  # the checkpoint has the weights: download nothing
    module = ClassifierModule(
        net=instantiate(model_cfg),
        num_classes=hparams["run_config"]["data"]["num_classes"],
        run_config=hparams["run_config"],
        class_names=hparams.get("class_names"),
    )
    try:
        module.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        raise UserError(f"the checkpoint's weights do not fit its model config: {err}") from None
    return module
