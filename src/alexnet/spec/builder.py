"""The builder: a run spec's parts into objects, the same way for a training run and
for the tools that start from a checkpoint. Models and datasets are looked up in their
registries by name, their arguments checked first; the optimizer, scheduler, trainer
and callbacks are the project's own config groups, built with Hydra's ``instantiate``.
Nothing read from a checkpoint ever reaches ``instantiate``."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import LearningRateMonitor, ModelSummary, ProgressBar
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig
from torch import nn

from alexnet.checkpoints import Checkpoint, Record, net_state_dict, read_checkpoint
from alexnet.data import ClassificationDataModule, dataset_class
from alexnet.models import (
    ModelInfo,
    create_model,
    freeze,
    load_torchvision_weights,
    load_weights,
    model_info,
)
from alexnet.module import ClassifierModule
from alexnet.spec.arguments import checked_arguments
from alexnet.spec.run_spec import ModelPart, Part, RunSpec


def build_net(model: ModelPart, init: Checkpoint | None = None) -> nn.Module:
    """The network of ``model``, in training mode: its weights torchvision's
    (``model.weights``), the ``init`` checkpoint's (a head of another class count starts
    afresh), or freshly initialised; ``model.freeze`` stops training sub-modules."""
    net = create_model(model.name, **model.kwargs)
    info = model_info(model.name)
    if init is not None:
        load_weights(net, net_state_dict(init), info, str(init.path))
    elif model.weights:
        load_torchvision_weights(net, info, model.weights)
    return freeze(net, model.freeze).train()


@dataclass
class LoadedModel:
    """A checkpoint's network, in eval mode on the CPU, with what the tools need."""

    net: nn.Module
    info: ModelInfo
    record: Record

    @property
    def input_shape(self) -> tuple[int, int, int]:
        p = self.record.preprocessing
        return (self.record.model.kwargs.get("in_channels", p.channels), p.crop, p.crop)


def load_model(checkpoint: Checkpoint | str | Path) -> LoadedModel:
    """The one loader: the checkpoint's registered model, built from its recorded
    arguments by :func:`build_net`, with its weights."""
    if not isinstance(checkpoint, Checkpoint):
        checkpoint = read_checkpoint(checkpoint)
    record = checkpoint.record
    net = build_net(ModelPart(**record.model.model_dump()), init=checkpoint)
    return LoadedModel(net.eval(), model_info(record.model.name), record)


def build_data(data: Part) -> ClassificationDataModule:
    """The registered dataset ``data.name``, its arguments checked first."""
    cls = dataset_class(data.name)
    return cls(**checked_arguments(cls, data.kwargs, f"data {data.name}"))


def count_classes(datamodule: ClassificationDataModule) -> int:
    """The number of classes the data has, found by setting it up (downloading it
    first, on the first process only)."""
    if rank_zero_only.rank == 0:
        datamodule.prepare_data()
    datamodule.setup("fit")
    return len(datamodule.class_names)


def settle_classes(spec: RunSpec, datamodule: ClassificationDataModule) -> RunSpec:
    """``spec`` with its class count: the config's, or (null) the data's."""
    given = spec.data.kwargs.get("num_classes")
    return spec.with_classes(given if given is not None else count_classes(datamodule))


def build_module(spec: RunSpec, net: nn.Module) -> ClassifierModule:
    """The LightningModule that trains ``net`` with the spec's optimisation."""
    training = spec.optimisation
    return ClassifierModule(
        net=net,
        optimizer=instantiate(training.optimizer),
        scheduler=instantiate(training.scheduler) if training.scheduler else None,
        num_classes=spec.num_classes,
        label_smoothing=training.label_smoothing,
        compile=training.compile,
        channels_last=training.channels_last,
        max_nonfinite_steps=training.max_nonfinite_steps,
    )


def build_callbacks(
    cfg: DictConfig | None, trainer_options: dict[str, Any], has_logger: bool = True
) -> list[L.Callback]:
    """One callback per entry of the ``callbacks`` group (``callbacks.<name>=null`` drops
    one), less those the run switches off: the progress bar and the model summary with
    ``trainer.enable_progress_bar=false`` / ``enable_model_summary=false`` (Lightning
    would refuse the pair), the learning-rate monitor without a logger (``logger=none``)."""
    callbacks = [instantiate(c) for c in (cfg or {}).values() if c is not None]
    switched_off = [
        (ProgressBar, trainer_options.get("enable_progress_bar") is False),
        (ModelSummary, trainer_options.get("enable_model_summary") is False),
        (LearningRateMonitor, not has_logger),
    ]
    off = tuple(kind for kind, is_off in switched_off if is_off)
    return [c for c in callbacks if not isinstance(c, off)]


def build_trainer(options: dict[str, Any] | DictConfig, **kwargs: Any) -> L.Trainer:
    """The Trainer of ``options`` (a configs/trainer/ config), ``kwargs`` added."""
    return instantiate(options, **kwargs)
