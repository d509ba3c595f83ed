"""The typed spec of each command: its composed config, validated once at the command line
(alexnet.run.options), and the only thing the code below the command line reads.

Each task takes its spec (``train(TrainSpec)``, ``evaluate(EvalSpec)``, ...). A spec
mirrors its config file key for key, so an error names the option as the user types it;
what the config does not hold — a sweep's study, read from Hydra — the command line
adds (``TrainSpec.sweep``). Models and datasets are registered names with their
arguments (checked against the constructors at the command line); the optimizer,
scheduler, trainer, callbacks and loggers are ``_target_`` nodes of the project's own
config groups, built with Hydra's ``instantiate``.

A training run builds :class:`Parts` from its spec, the values the two sides share
settled explicitly:

- the data is resized to the model's input size (its argument, the registry's
  default, or the checkpoint's when fine-tuning);
- the model takes the data's channels;
- the model's head has the data's class count (``data.num_classes``, or with null the
  dataset's classes), settled once the data is known (alexnet.builder.settle_classes).

A checkpoint records the parts (alexnet.checkpoints.record), so the tools that start
from a checkpoint build through the same builder.
"""

from typing import Annotated, Any, Literal

import pydantic

from alexnet.errors import UserError
from alexnet.models import model_info

#: Keys of a model config that are not constructor arguments.
MODEL_OPTIONS = ("name", "weights", "freeze")
Target = dict[str, Any]  # a ``_target_`` node of a config group


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", strict=True, frozen=True)


class Part(_Strict):
    """A registered name (a model or a dataset) and its constructor's arguments."""

    name: str
    kwargs: dict[str, Any]


class ModelPart(Part):
    """The model, with the options that are not its arguments: torchvision's
    ``weights`` to start from, and the sub-modules to ``freeze``."""

    weights: str | None = None
    freeze: list[str] = []

    @property
    def input_size(self) -> int:
        return int(self.kwargs.get("input_size") or model_info(self.name).input_size)


class Parts(_Strict):
    """What a training run builds from its spec: the model and the data."""

    model: ModelPart
    data: Part

    @property
    def num_classes(self) -> int | None:
        return self.model.kwargs.get("num_classes")


class Registered(_Strict):
    """A config of a registered model or dataset: ``name``, and its constructor's
    arguments (the other keys, checked against it at the command line)."""

    model_config = pydantic.ConfigDict(extra="allow", strict=True, frozen=True)
    name: str

    @property
    def arguments(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ModelOptions(Registered):
    weights: str | None = None
    freeze: list[str] | None = None


class Paths(_Strict):
    root_dir: str
    data_dir: str
    log_dir: str
    output_dir: str


class FaultTolerance(_Strict):
    checkpoint_every_n_steps: Annotated[int, pydantic.Field(ge=1)]
    max_nonfinite_steps: Annotated[int, pydantic.Field(ge=0)]
    hang_timeout_s: Annotated[float, pydantic.Field(gt=0)] | None
    slurm_requeue: bool


class Study(_Strict):
    """The Optuna study a sweep's trial belongs to, as its sweep folder records it
    (alexnet.sweeps.folder), and what the trial reports to its pruner."""

    storage: str
    name: str
    id: str
    trial: int
    pruner: Target | None = None
    pruning_metric: str = "val/acc"

    def identity(self) -> dict[str, Any]:
        return {"storage": self.storage, "name": self.name, "id": self.id, "trial": self.trial}


class Sweep(_Strict):
    """The ``-m`` sweep a job runs in: its folder's name (the W&B group), its study."""

    name: str
    study: Study | None = None


def _a_backend(name: str) -> str:
    """``compile=<name>``: ``strict`` or a backend torch.compile knows."""
    import torch  # only when compile names one: torch._dynamo is slow to import

    known = ["strict", *torch.compiler.list_backends(exclude_tags=())]
    if name not in known:
        raise ValueError(f"should be true, false or one of {', '.join(known)}")
    return name


CompileBackend = Annotated[str, pydantic.AfterValidator(_a_backend)]
Positive = Annotated[int, pydantic.Field(ge=1)]


class TaskSpec(_Strict):
    """What every command has: its name (its logs folder) and its paths."""

    task_name: str
    paths: Paths


class TrainSpec(TaskSpec):
    """train.py (and prepare.py, which builds on it): configs/train.yaml."""

    project: str
    tags: list[str]
    seed: int
    label_smoothing: Annotated[float, pydantic.Field(ge=0, lt=1)]
    lr_find: bool
    resume: str | None
    ckpt_path: str | None
    init_from: str | None
    fault_tolerance: FaultTolerance
    test: bool
    optimized_metric: str | None
    study_trial: Annotated[int, pydantic.Field(ge=0)] | None
    compile: bool | CompileBackend
    channels_last: bool
    data: Registered
    model: ModelOptions
    optimizer: Target
    scheduler: Target | None
    trainer: Target
    callbacks: dict[str, Target | None] | None
    logger: dict[str, Target | None] | None
    sweep: Sweep | None = None  # set at the command line in a -m sweep

    def parts(self, init: Part | None = None) -> Parts:
        """The model and the data; with ``init`` (the model part of the ``init_from``
        checkpoint's record) that model, its head and channels the config's."""
        arguments = {"in_channels": self.data.arguments["in_channels"], **self.model.arguments}
        if init is None:
            options = {"weights": self.model.weights, "freeze": self.model.freeze or []}
            model = ModelPart(name=self.model.name, kwargs=arguments, **options)
        else:
            if self.model.weights:
                raise UserError("give model.weights or init_from, not both")
            shape = {k: arguments[k] for k in ("num_classes", "in_channels") if k in arguments}
            model = ModelPart(
                name=init.name, kwargs={**init.kwargs, **shape}, freeze=self.model.freeze or []
            )
        data = Part(name=self.data.name, kwargs=self.data.arguments)
        return Parts(model=model, data=sized(data, model.input_size))


class PrepareSpec(TrainSpec):
    """prepare.py: configs/prepare.yaml (train.yaml's options, and what to do)."""

    action: Literal["prepare", "list", "remove"]
    copy_name: str | None


def sized(data: Part, input_size: int, **overrides: Any) -> Part:
    """``data`` resized to a model's ``input_size``, with ``overrides``."""
    return Part(name=data.name, kwargs={**data.kwargs, "image_size": input_size, **overrides})


class EvalSpec(TaskSpec):
    """eval.py: configs/eval.yaml."""

    ckpt_path: str
    data: Registered | None = None  # null: the dataset the checkpoint was trained on
    split: Literal["test", "val"]
    tta: Literal["center", "ten_crop"]
    seed: int
    trainer: Target


class FeaturesSpec(TaskSpec):
    """features.py: configs/features.yaml."""

    ckpt_path: str
    data: Registered | None = None  # null: the dataset the checkpoint was trained on
    split: Literal["train", "val", "test"]
    device: str


class PredictSpec(TaskSpec):
    """predict.py: configs/predict.yaml."""

    ckpt_path: str
    inputs: str | list[str]
    top_k: Positive
    batch_size: Positive
    device: str
    gradcam: bool


class ExportSpec(TaskSpec):
    """export.py: configs/export.yaml."""

    ckpt_path: str
    formats: list[Literal["torchscript", "onnx", "pt2"]]
    out: str | None


def checkpoint_data(model: Part, data: Part, chosen: Registered | None, **overrides: Any) -> Part:
    """The data to run a checkpoint's ``model`` on (its record's parts): the ``chosen``
    dataset, or (None) the recorded ``data``, at the model's input size with
    ``overrides``. A chosen dataset keeps its own classes (the task maps them to the
    model's by name); the recorded one has the model's."""
    if chosen is None:
        return sized(data, int(model.kwargs["input_size"]), **overrides)
    part = Part(name=chosen.name, kwargs=chosen.arguments)
    return sized(part, int(model.kwargs["input_size"]), **overrides)
