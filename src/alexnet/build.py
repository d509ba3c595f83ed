"""The config layer: composed configs into objects. Configs of the project's own files
go through Hydra's ``instantiate``; models through the registry (``model.name`` plus
arguments); nothing read from a checkpoint ever reaches ``instantiate``."""

from typing import Any

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import LearningRateMonitor, ModelSummary, ProgressBar
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf, open_dict
from torch import nn

from alexnet.checkpoints import (
    Built,
    LoadedModel,
    dataset_from,
    load_model,
    read_checkpoint,
    record,
)
from alexnet.config_check import MODEL_OPTIONS
from alexnet.models import create_model, freeze, load_torchvision_weights, model_arguments
from alexnet.models import model_info as registered
from alexnet.module import ClassifierModule


def plain(cfg: DictConfig | dict | None) -> dict[str, Any]:
    """A config node as a resolved plain dict (empty for None)."""
    if cfg is None:
        return {}
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


def build_net(model_cfg: DictConfig, init_from: str | None = None) -> tuple[nn.Module, Built]:
    """The network of ``model_cfg`` and how it was built (registered name and checked
    arguments, as checkpoints record it). ``model.weights`` loads torchvision's weights,
    ``model.freeze`` stops training sub-modules. With ``init_from`` (fine-tuning) the
    network is that checkpoint's model and weights, with the config's ``num_classes``
    and ``in_channels``: a head of another class count starts afresh."""
    options = plain(model_cfg)
    if init_from:
        shape = {k: options[k] for k in ("num_classes", "in_channels") if k in options}
        loaded: LoadedModel = load_model(init_from, **shape)
        built = Built(name=loaded.record.model.name, kwargs={**loaded.record.model.kwargs, **shape})
        net = loaded.net.train()
    else:
        name = options.get("name")
        arguments = {k: v for k, v in options.items() if k not in MODEL_OPTIONS}
        built = Built(name=str(name), kwargs=model_arguments(name, arguments))
        net = create_model(built.name, **built.kwargs)
        if options.get("weights"):
            load_torchvision_weights(net, registered(built.name), options["weights"])
    return freeze(net, options.get("freeze") or []), built


def model_input_size(model_cfg: DictConfig, init_from: str | None = None) -> int:
    """The input size of the model the run will build (the data is resized to it)."""
    if init_from:
        return int(record(read_checkpoint(init_from), init_from).model.kwargs["input_size"])
    return int(model_cfg.get("input_size") or registered(model_cfg.name).input_size)


def settle_class_count(cfg: DictConfig, datamodule: L.LightningDataModule) -> int:
    """``data.num_classes``: the config's, or (null) the number of classes the data has,
    found by setting the data up (downloading it first, on the first process only). The
    model config's ``num_classes: ${data.num_classes}`` then sizes the head."""
    if cfg.data.get("num_classes") is None:
        if rank_zero_only.rank == 0:
            datamodule.prepare_data()
        datamodule.setup("fit")
        with open_dict(cfg.data):
            cfg.data.num_classes = len(datamodule.class_names)
    return cfg.data.num_classes


def build_datamodule(data_cfg: DictConfig, **overrides: Any) -> L.LightningDataModule:
    """The DataModule of ``data_cfg`` (a config of configs/data/), ``overrides`` set in
    the config first (so they replace interpolations such as ``${model.input_size}``)."""
    with open_dict(data_cfg):
        for key, value in overrides.items():
            data_cfg[key] = value
    return instantiate(data_cfg)


def build_module(cfg: DictConfig, net: nn.Module) -> ClassifierModule:
    """The LightningModule that trains ``net`` with the run's optimizer and schedule."""
    return ClassifierModule(
        net=net,
        optimizer=instantiate(cfg.optimizer),
        scheduler=instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
        num_classes=cfg.data.num_classes,
        label_smoothing=cfg.label_smoothing,
        compile=cfg.get("compile", False),
        channels_last=cfg.get("channels_last", False),
        max_nonfinite_steps=cfg.fault_tolerance.max_nonfinite_steps,
    )


def build_callbacks(
    cfg: DictConfig | None, trainer_cfg: DictConfig, has_logger: bool = True
) -> list[L.Callback]:
    """One callback per entry of the ``callbacks`` group (``callbacks.<name>=null`` drops
    one), less those the run switches off: the progress bar and the model summary with
    ``trainer.enable_progress_bar=false`` / ``enable_model_summary=false`` (Lightning
    would refuse the pair), the learning-rate monitor without a logger (``logger=none``)."""
    callbacks = [instantiate(c) for c in (cfg or {}).values() if c is not None]
    switched_off = [
        (ProgressBar, trainer_cfg.get("enable_progress_bar") is False),
        (ModelSummary, trainer_cfg.get("enable_model_summary") is False),
        (LearningRateMonitor, not has_logger),
    ]
    off = tuple(kind for kind, is_off in switched_off if is_off)
    return [c for c in callbacks if not isinstance(c, off)]


def build_trainer(cfg: DictConfig, **kwargs: Any) -> L.Trainer:
    """The Trainer of ``cfg`` (a configs/trainer/ config), ``kwargs`` added."""
    return instantiate(cfg, **kwargs)


def build_checkpoint_datamodule(
    data_cfg: DictConfig | None, loaded: LoadedModel, **overrides: Any
) -> L.LightningDataModule:
    """The data to run a checkpoint's model on: ``data_cfg`` at the model's input size,
    or (None) the dataset the checkpoint records, rebuilt from its arguments."""
    if data_cfg is None:
        return dataset_from(loaded.record, **overrides)
    return build_datamodule(
        data_cfg, image_size=loaded.record.model.kwargs["input_size"], **overrides
    )
