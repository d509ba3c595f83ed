"""The composed config checked before a task runs anything: every value that reaches a
constructor (a ``_target_`` node, the model's arguments) against that constructor's
signature, and the tasks' own options against their types. A wrong type or a name that
is not an option stops with one line — the key, the value, what was expected, the
closest option — before a file is written or data is read."""

import re
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pydantic
from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf

from alexnet.data import dataset_class
from alexnet.models import model_info
from alexnet.run.errors import UserError
from alexnet.runspec.arguments import Problem, closest, described, first_problem, signature_of
from alexnet.runspec.spec import MODEL_OPTIONS

#: Targets whose ``**kwargs`` go on to another function, whose signature checks them.
KEYWORDS_PASSED_ON = {
    "lightning.pytorch.loggers.WandbLogger": "wandb.init",
    "lightning.pytorch.strategies.DDPStrategy": "torch.nn.parallel.DistributedDataParallel",
}


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(strict=True, extra="forbid")


class FaultTolerance(_Strict):
    checkpoint_every_n_steps: Annotated[int, pydantic.Field(ge=1)]
    max_nonfinite_steps: Annotated[int, pydantic.Field(ge=0)]
    hang_timeout_s: Annotated[float, pydantic.Field(gt=0)] | None
    slurm_requeue: bool


class Paths(_Strict):
    root_dir: str
    data_dir: str
    log_dir: str
    output_dir: str


class ModelOptions(_Strict):
    model_config = pydantic.ConfigDict(strict=True, extra="allow")  # the rest: arguments
    name: str
    weights: str | None = None
    freeze: list[str] | None = None


def _a_backend(name: str) -> str:
    """``compile=<name>``: ``strict`` or a backend torch.compile knows."""
    import torch  # only when compile names one: torch._dynamo is slow to import

    known = ["strict", *torch.compiler.list_backends(exclude_tags=())]
    if name not in known:
        raise ValueError(f"should be true, false or one of {', '.join(known)}")
    return name


CompileBackend = Annotated[str, pydantic.AfterValidator(_a_backend)]


class TaskOptions(pydantic.BaseModel):
    """The options of train.py, eval.py, predict.py, features.py and export.py (a name
    means the same in each); the config groups are checked against their targets."""

    model_config = pydantic.ConfigDict(strict=True, extra="allow")
    task_name: str | None = None
    project: str | None = None
    tags: list[str] | None = None
    seed: int | None = None
    label_smoothing: Annotated[float, pydantic.Field(ge=0, lt=1)] | None = None
    lr_find: bool | None = None
    resume: str | None = None
    ckpt_path: str | None = None
    init_from: str | None = None
    fault_tolerance: FaultTolerance | None = None
    test: bool | None = None
    optimized_metric: str | None = None
    study_trial: Annotated[int, pydantic.Field(ge=0)] | None = None
    compile: bool | CompileBackend | None = None
    channels_last: bool | None = None
    paths: Paths | None = None
    split: Literal["test", "val"] | None = None
    tta: Literal["center", "ten_crop"] | None = None
    inputs: str | list[str] | None = None
    top_k: Annotated[int, pydantic.Field(ge=1)] | None = None
    batch_size: Annotated[int, pydantic.Field(ge=1)] | None = None
    device: str | None = None
    gradcam: bool | None = None
    formats: list[Literal["torchscript", "onnx", "pt2"]] | None = None
    out: str | None = None


@dataclass
class OptionProblem(Exception):
    """The first problem found: at option ``prefix + problem.name`` of ``where``."""

    prefix: str
    problem: Problem
    where: str


def _message(key: str, problem: Problem, where: str) -> str:
    if problem.kind == "unknown":
        near = closest(problem.name.rsplit(".", 1)[-1], problem.accepted)
        parent = key.rsplit(".", 1)[0] + "." if "." in key else ""
        hint = f"did you mean {parent}{near}?" if near else f"it has {', '.join(problem.accepted)}"
        return f"{key} is not an option of {where}: {hint}"
    if problem.kind == "missing":
        return f"{key} has no value: add {key}=... to the command"
    return f"{key}={problem.value}: the value {problem.message}"


def _fields_at(model: type[pydantic.BaseModel], path: tuple) -> list[str]:
    """The option names of the nested model that ``path`` (a pydantic error location
    less its last part) leads to; [] where it leads to no model."""
    for part in path:
        annotation = model.model_fields[str(part)].annotation
        models = [t for t in typing.get_args(annotation) or (annotation,) if _is_model(t)]
        if not models:
            return []
        model = models[0]
    return sorted(model.model_fields)


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, pydantic.BaseModel)


def _check_options(model: type[pydantic.BaseModel], values: dict, prefix: str) -> None:
    """``values`` against ``model``."""
    try:
        model.model_validate(values)
    except pydantic.ValidationError as err:
        problem = described(err, values, [])
        parent = problem.name.rsplit(".", 1)[0] if "." in problem.name else ""
        problem.accepted = _fields_at(model, tuple(parent.split(".")) if parent else ())
        raise OptionProblem(
            prefix, problem, f"{prefix}{parent}".rstrip(".") or "the task"
        ) from None


def check_target(node: dict, key: str) -> None:
    """A ``_target_`` node's arguments (those given) against the target's signature;
    nested ``_target_`` nodes (a strategy object, say) each against their own."""
    try:
        target = get_object(node["_target_"])
    except Exception as err:  # ImportError and friends: a misspelt class path
        raise UserError(f"{key}._target_={node['_target_']}: cannot import it ({err})") from None
    nested = {k: v for k, v in node.items() if isinstance(v, dict) and "_target_" in v}
    for name, child in nested.items():
        check_target(child, f"{key}.{name}")
    arguments = {k: v for k, v in node.items() if not k.startswith("_") and k not in nested}
    passed_on = KEYWORDS_PASSED_ON.get(node["_target_"])
    own = signature_of(target).fields if passed_on else arguments
    problem = first_problem(target, {k: v for k, v in arguments.items() if k in own}, True)
    if problem is None and passed_on:
        rest = {k: v for k, v in arguments.items() if k not in own}
        problem = first_problem(get_object(passed_on), rest, given_only=True)
    if problem is not None:
        raise OptionProblem(f"{key}.", problem, f"{key} ({node['_target_']})")


def check_model(node: dict) -> None:
    """The model's options, and its arguments against the registered constructor (those
    the run spec settles from the data, such as ``num_classes``, may be missing)."""
    _check_options(ModelOptions, node, "model.")
    constructor = model_info(node["name"]).constructor
    arguments = {k: v for k, v in node.items() if k not in MODEL_OPTIONS}
    problem = first_problem(constructor, arguments, given_only=True)
    if problem is not None:
        raise OptionProblem("model.", problem, f"model {node['name']}")


def check_data(node: dict) -> None:
    """The dataset's arguments against its registered DataModule's constructor."""
    arguments = {k: v for k, v in node.items() if k != "name"}
    problem = first_problem(dataset_class(node.get("name")), arguments, given_only=True)
    if problem is not None:
        raise OptionProblem("data.", problem, f"data {node['name']}")


def _targets(node: Any, key: str) -> list[tuple[str, dict]]:
    """(key, node) of every top-most ``_target_`` node under ``node``."""
    if not isinstance(node, dict):
        return []
    if "_target_" in node:
        return [(key, node)]
    return [found for k, v in node.items() for found in _targets(v, f"{key}.{k}" if key else k)]


def origin(cfg: DictConfig, key: str) -> str:
    """The option the user sets for ``key``: the one it refers to if it is a plain
    interpolation (``scheduler.max_epochs: ${trainer.max_epochs}``), else ``key`` itself."""
    parent, _, name = key.rpartition(".")
    node = OmegaConf.select(cfg, parent) if parent else cfg
    if (
        not isinstance(node, DictConfig)
        or name not in node
        or not OmegaConf.is_interpolation(node, name)
    ):
        return key
    raw = OmegaConf.to_container(node, resolve=False)[name]
    reference = re.fullmatch(r"\$\{([\w.]+)\}", str(raw))
    return origin(cfg, reference.group(1)) if reference else key


def check_config(cfg: DictConfig) -> None:
    """Every option of the composed ``cfg`` against its type, or a UserError of one line."""
    values = OmegaConf.to_container(cfg, resolve=True)
    try:
        _check_options(TaskOptions, values, "")
        for key, node in _targets(values, ""):
            check_target(node, key)
        if isinstance(values.get("data"), dict):
            check_data(values["data"])
        if isinstance(values.get("model"), dict) and "name" in values["model"]:
            check_model(values["model"])
    except OptionProblem as found:
        key = f"{found.prefix}{found.problem.name}"
        shown = origin(cfg, key) if found.problem.kind == "type" else key
        raise UserError(_message(shown, found.problem, found.where)) from None
