"""The builder: a spec's parts into objects, the same way for a training run and for
the tools that start from a checkpoint. Models and datasets are looked up in their
registries by name, their arguments checked first; the optimizer, scheduler, trainer,
callbacks and loggers are the project's own config groups, built with Hydra's
``instantiate``. Nothing read from a checkpoint ever reaches ``instantiate``."""

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import LearningRateMonitor, ModelSummary, ProgressBar
from lightning.pytorch.loggers import Logger, WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from torch import nn

from alexnet.arguments import checked_arguments
from alexnet.callbacks.startup import StartupPhases
from alexnet.checkpoints import Checkpoint, Record, net_state_dict, read_checkpoint
from alexnet.checkpoints.identity import training
from alexnet.checkpoints.io import AtomicCheckpointIO
from alexnet.checkpoints.saving import SaveRecord
from alexnet.data import ClassificationDataModule, dataset_class
from alexnet.faults.exact_resume import ExactResume
from alexnet.faults.signals import CheckpointOnSignal
from alexnet.faults.watchdog import Watchdog
from alexnet.loggers import WandbRunCallback, instantiate_loggers
from alexnet.models import (
    ModelInfo,
    create_model,
    freeze,
    load_torchvision_weights,
    load_weights,
    model_info,
)
from alexnet.module import ClassifierModule
from alexnet.spec import ModelPart, Part, Parts, Study, Target, TrainSpec

if TYPE_CHECKING:
    from alexnet.sweeps.pruning import StudyPruning

LAST = Path("checkpoints") / "last.ckpt"  # in the run directory


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


def set_up(datamodule: ClassificationDataModule) -> ClassificationDataModule:
    """``datamodule`` ready to read: its data made or fetched (on the first process
    only; prepared copies, downloads) and its splits found."""
    if rank_zero_only.rank == 0:
        datamodule.prepare_data()
    datamodule.setup("fit")
    return datamodule


def with_classes(parts: Parts, count: int) -> Parts:
    """``parts`` with the class count ``count`` in both: the model's head, and the data,
    which checks it against the classes it finds."""
    model = parts.model.model_copy(update={"kwargs": {**parts.model.kwargs, "num_classes": count}})
    data = parts.data.model_copy(update={"kwargs": {**parts.data.kwargs, "num_classes": count}})
    return Parts(model=model, data=data)


def settle_classes(parts: Parts, datamodule: ClassificationDataModule) -> Parts:
    """``parts`` with their class count: the config's, or (null) the data's."""
    count = parts.data.kwargs.get("num_classes")
    return with_classes(parts, count if count is not None else len(set_up(datamodule).class_names))


def build_module(spec: TrainSpec, parts: Parts, net: nn.Module) -> ClassifierModule:
    """The LightningModule that trains ``net`` with the spec's optimisation."""
    return ClassifierModule(
        net=net,
        optimizer=instantiate(spec.optimizer),
        scheduler=instantiate(spec.scheduler) if spec.scheduler else None,
        num_classes=parts.num_classes,
        label_smoothing=spec.label_smoothing,
        compile=spec.compile,
        channels_last=spec.channels_last,
        max_nonfinite_steps=spec.fault_tolerance.max_nonfinite_steps,
    )


def study_pruning(study: Study | None) -> "StudyPruning | None":
    """The pruning callback of a sweep's trial whose study has a pruner, or None."""
    if study is None or study.pruner is None:
        return None
    from alexnet.sweeps.pruning import StudyPruning  # Optuna: only in such a trial

    return StudyPruning(study.storage, study.name, study.trial, study.pruner, study.pruning_metric)


class RunCallbacks(NamedTuple):
    """A training run's callbacks, and the two the task asks after the run."""

    all: list[L.Callback]
    watchdog: Watchdog
    pruning: "StudyPruning | None"


def build_callbacks(spec: TrainSpec, parts: Parts, loggers: list[Logger]) -> RunCallbacks:
    """One callback per entry of the ``callbacks`` group (``callbacks.<name>=null`` drops
    one), less those the run switches off (the progress bar and the model summary with
    ``trainer.enable_progress_bar=false`` / ``enable_model_summary=false``: Lightning
    would refuse the pair; the learning-rate monitor without a logger), and those every
    run has: the record in each checkpoint, exact resume, a checkpoint on a signal, the
    watchdog, W&B's start and its run id in each checkpoint (with W&B), the study's pruning (a
    sweep's trial), the start-up's phases in the run's log."""
    chosen = [instantiate(c) for c in (spec.callbacks or {}).values() if c is not None]
    switched_off = [
        (ProgressBar, spec.trainer.get("enable_progress_bar") is False),
        (ModelSummary, spec.trainer.get("enable_model_summary") is False),
        (LearningRateMonitor, not loggers),
    ]
    off = tuple(kind for kind, is_off in switched_off if is_off)
    faults = spec.fault_tolerance
    last = Path(spec.paths.output_dir) / LAST
    watchdog = Watchdog(faults.hang_timeout_s, resume_hint=last)
    study = spec.sweep.study if spec.sweep else None
    pruning = study_pruning(study)
    every_run = [
        SaveRecord(parts, training(spec, parts), study.identity() if study else None),
        ExactResume(),
        CheckpointOnSignal(last, slurm_requeue=faults.slurm_requeue),
        watchdog,
        StartupPhases(),  # (before W&B's start: the first step's end is marked first)
        *([WandbRunCallback()] if any(isinstance(x, WandbLogger) for x in loggers) else []),
        *([pruning] if pruning else []),
    ]
    return RunCallbacks(
        [c for c in chosen if not isinstance(c, off)] + every_run, watchdog, pruning
    )


def build_loggers(spec: TrainSpec, resumed: Checkpoint | None) -> list[Logger]:
    """The loggers of the ``logger`` group; a resumed run's continue where it stopped; a
    sweep's jobs share a W&B group named after the sweep."""
    group = spec.sweep.name if spec.sweep else None
    if resumed is None:
        return instantiate_loggers(spec.logger, group)
    wandb_id = resumed.contents.get("wandb_run_id")
    return instantiate_loggers(spec.logger, group, wandb_id, resumed.global_step)


def build_trainer(options: Target, resumed: Checkpoint | None = None, **kwargs: Any) -> L.Trainer:
    """The Trainer of ``options`` (a configs/trainer/ config), writing its checkpoints
    atomically and resuming from ``resumed`` without reading it again; ``kwargs`` added."""
    return instantiate(options, plugins=[AtomicCheckpointIO(already_read=resumed)], **kwargs)
