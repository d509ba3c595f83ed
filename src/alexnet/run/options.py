"""A composed config into its task's typed spec (alexnet.spec), checked before the task
runs anything: the options against the spec's types, and every value that reaches a
constructor (a ``_target_`` node, the model's and the dataset's arguments) against that
constructor's signature. A wrong type or a name that is not an option stops with one
line — the key, the value, what was expected, the closest option — before a file is
written or data is read."""

import re
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

import pydantic
from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf

from alexnet.arguments import Problem, closest, described, first_problem, signature_of
from alexnet.data import dataset_class
from alexnet.errors import UserError
from alexnet.models import model_info
from alexnet.spec import MODEL_OPTIONS, ModelOptions, TaskSpec

#: Targets whose ``**kwargs`` go on to another function, whose signature checks them.
KEYWORDS_PASSED_ON = {
    "alexnet.loggers.BackgroundWandbLogger": "wandb.init",
    "lightning.pytorch.strategies.DDPStrategy": "torch.nn.parallel.DistributedDataParallel",
}


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


def _check_options(
    model: type[pydantic.BaseModel], values: dict, prefix: str, task: str = "the task"
) -> None:
    """``values`` against ``model`` (of ``task``'s options, or of a part's)."""
    try:
        model.model_validate(values)
    except pydantic.ValidationError as err:
        problem = described(err, values, [])
        parent = problem.name.rsplit(".", 1)[0] if "." in problem.name else ""
        problem.accepted = _fields_at(model, tuple(parent.split(".")) if parent else ())
        raise OptionProblem(prefix, problem, f"{prefix}{parent}".rstrip(".") or task) from None


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
    rest = {k: v for k, v in arguments.items() if k not in own}
    if problem is None and passed_on and rest:  # (wandb is slow to import: only if needed)
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


Spec = TypeVar("Spec", bound=TaskSpec)


def task_spec(cfg: DictConfig, spec_type: type[Spec], **added: Any) -> Spec:
    """The spec of the composed ``cfg`` (resolved here, once), with the values the
    command line ``added`` (a sweep's study); a UserError of one line if an option is
    not one, or its value is not of its type."""
    values = {**OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True), **added}
    task = f"{values.get('task_name', 'the task')}.py"
    try:
        _check_options(spec_type, values, "", task)
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
    return spec_type.model_validate(values)
