"""The run spec: what a run builds, resolved once from the composed config.

A composed config is a tree of options with interpolations; the spec is the one object
the builder reads: the model (a registered name and its arguments), the data (a
registered dataset name and its arguments, the preprocessing recipe among them), the
optimisation and the trainer's options. The values the two sides share are settled
here, explicitly, and never written back into the config:

- the data is resized to the model's input size (its argument, the registry's
  default, or the checkpoint's when fine-tuning);
- the model takes the data's channels;
- the model's head has the data's class count (``data.num_classes``, or with null
  the dataset's classes), which the builder settles once the data is known
  (alexnet.runspec.builder.settle_classes).

A checkpoint records the spec's model and data parts (alexnet.checkpoints.record), so
the tools that start from a checkpoint build through the same builder.
"""

from typing import Any

import pydantic
from omegaconf import DictConfig, OmegaConf

from alexnet.models import model_info
from alexnet.run.errors import UserError

#: Keys of a model config that are not constructor arguments.
MODEL_OPTIONS = ("name", "weights", "freeze")


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


class Optimisation(_Strict):
    """How the network is trained: the optimizer and scheduler (``_partial_`` configs
    of the project's own config groups, never of a checkpoint), and the loss's and
    the step's options."""

    optimizer: dict[str, Any]
    scheduler: dict[str, Any] | None
    label_smoothing: float
    compile: bool | str
    channels_last: bool
    max_nonfinite_steps: int


class RunSpec(_Strict):
    """Everything a training run builds."""

    model: ModelPart
    data: Part
    optimisation: Optimisation
    trainer: dict[str, Any]

    @property
    def num_classes(self) -> int | None:
        return self.model.kwargs.get("num_classes")


def model_part(model: dict[str, Any], init: Part | None = None) -> ModelPart:
    """The model of a resolved model config; with ``init`` (the model part of the
    ``init_from`` checkpoint's record) that model, its head and channels the config's."""
    options = {k: model[k] for k in MODEL_OPTIONS if model.get(k) is not None}
    arguments = {k: v for k, v in model.items() if k not in MODEL_OPTIONS}
    if init is None:
        return ModelPart(kwargs=arguments, **options)
    shape = {k: arguments[k] for k in ("num_classes", "in_channels") if k in arguments}
    if options.get("weights"):
        raise UserError("give model.weights or init_from, not both")
    return ModelPart(
        name=init.name,
        kwargs={**init.kwargs, **shape},
        freeze=options.get("freeze", []),
    )


def data_part(data: dict[str, Any], input_size: int) -> Part:
    """The dataset of a resolved data config, resized to the model's ``input_size``."""
    arguments = {k: v for k, v in data.items() if k != "name"}
    return Part(name=data["name"], kwargs={**arguments, "image_size": input_size})


def run_spec(cfg: DictConfig, init: Part | None = None) -> RunSpec:
    """The spec of the composed train config ``cfg`` (resolved here, once); ``init``:
    the model part of the ``init_from`` checkpoint's record."""
    values = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    data_values = values["data"]
    model_values = {"in_channels": data_values["in_channels"], **values["model"]}
    model = model_part(model_values, init)
    return RunSpec(
        model=model,
        data=data_part(data_values, model.input_size),
        optimisation=Optimisation(
            optimizer=values["optimizer"],
            scheduler=values.get("scheduler"),
            label_smoothing=values["label_smoothing"],
            compile=values.get("compile", False),
            channels_last=values.get("channels_last", False),
            max_nonfinite_steps=values["fault_tolerance"]["max_nonfinite_steps"],
        ),
        trainer=values["trainer"],
    )


def checkpoint_data(model: Part, data: Part, data_cfg: DictConfig | None, **overrides: Any) -> Part:
    """The data to run a checkpoint's ``model`` on (its record's parts): the dataset of
    ``data_cfg`` at the model's input size, or (None) the recorded ``data``; either with
    the model's class count and ``overrides``."""
    input_size = int(model.kwargs["input_size"])
    if data_cfg is None:
        part = data
    else:
        values = OmegaConf.to_container(data_cfg, resolve=True, throw_on_missing=True)
        part = data_part(values, input_size)
    fixed = {"image_size": input_size, "num_classes": model.kwargs["num_classes"]}
    return Part(name=part.name, kwargs={**part.kwargs, **fixed, **overrides})
