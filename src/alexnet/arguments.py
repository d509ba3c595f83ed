"""Checking keyword arguments against a constructor's signature before calling it.

Model and dataset arguments come from configs and from checkpoints, which are data
from strangers, and every ``_target_`` node of a composed config comes from a command
line: a name that is not a parameter, or a value of the wrong type, must stop with one
line instead of reaching the constructor. pydantic does the type checking (strict: no
"3" for 3); this module only builds its model from a signature.
"""

import difflib
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import pydantic

from alexnet.errors import UserError

_SKIPPED_KINDS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


@dataclass
class Signature:
    """The keywords a callable accepts: name → (annotation, default or ...), and
    whether it also takes other keywords (``**kwargs`` that go beyond its bases)."""

    fields: dict[str, tuple[Any, Any]]
    open: bool


def _hints(function: Callable) -> dict[str, Any]:
    """The annotations of ``function``'s parameters; one that names a type its module
    imports only for type checkers (a forward reference) counts as Any."""
    try:
        return typing.get_type_hints(function)
    except (NameError, TypeError):
        parameters = inspect.signature(function).parameters.items()
        return {
            n: Any if "ForwardRef" in repr(p.annotation) else p.annotation for n, p in parameters
        }


def signature_of(target: Callable) -> Signature:
    """The parameters ``target`` accepts; for a class, the ``__init__`` parameters along
    its bases (subclasses pass ``**kwargs`` on); for a ``functools.partial``, those its
    keywords do not already fix."""
    fixed: set[str] = set()
    if isinstance(target, partial):
        fixed = set(target.keywords)
        target = target.func
    functions = (
        [k.__init__ for k in target.__mro__ if "__init__" in vars(k) and k is not object]
        if inspect.isclass(target)
        else [target]
    )
    if not functions:  # a class built in C (datetime.timedelta): not introspectable
        return Signature({}, open=True)
    fields: dict[str, tuple[Any, Any]] = {}
    takes_more = False
    for function in functions:
        hints = _hints(function)
        parameters = inspect.signature(function).parameters
        for name, p in parameters.items():
            if name in ("self", *fixed) or p.kind in _SKIPPED_KINDS or name in fields:
                continue
            default = ... if p.default is inspect.Parameter.empty else p.default
            fields[name] = (hints.get(name, Any), default)
        takes_more = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        if not takes_more:
            break  # nothing is passed on to the base class
    return Signature(fields, open=takes_more)


def closest(name: str, names: typing.Iterable[str]) -> str | None:
    """The name in ``names`` most like ``name`` (a misspelling's fix), if one is close."""
    found = difflib.get_close_matches(name, list(names), n=1, cutoff=0.6)
    return found[0] if found else None


@dataclass
class Problem:
    """The first thing wrong with some arguments: ``kind`` is ``unknown`` (not a
    parameter), ``missing`` or ``type`` (pydantic's ``message`` says what it expects)."""

    kind: str
    name: str
    message: str
    value: Any
    accepted: list[str]


def first_problem(
    target: Callable, arguments: Mapping[str, Any], given_only: bool = False
) -> Problem | None:
    """What is wrong with calling ``target(**arguments)`` (None: nothing). With
    ``given_only`` the parameters without a default may be missing (given later)."""
    signature = signature_of(target)
    fields = {
        name: (annotation, pydantic.Field(default=default))
        for name, (annotation, default) in signature.fields.items()
        if name in arguments or (default is ... and not given_only)
    }
    extra = "allow" if signature.open else "forbid"
    config = pydantic.ConfigDict(extra=extra, strict=True, arbitrary_types_allowed=True)
    try:
        model = pydantic.create_model("Arguments", __config__=config, **fields)
        model.model_rebuild()
    except (pydantic.PydanticUserError, pydantic.errors.PydanticUndefinedAnnotation):
        loose = {name: (Any, field) for name, (_, field) in fields.items()}  # names only
        model = pydantic.create_model("Arguments", __config__=config, **loose)
    try:
        model.model_validate(dict(arguments))
    except pydantic.ValidationError as err:
        return described(err, arguments, sorted(signature.fields))
    return None


def described(err: pydantic.ValidationError, values: Mapping, accepted: list[str]) -> Problem:
    """pydantic's first error as a Problem. A value that fits no member of a union
    fails once per member: their messages are joined with "or"."""
    errors = err.errors()
    first = errors[0]
    kind = {"extra_forbidden": "unknown", "missing": "missing"}.get(first["type"], "type")
    path = given_path(first["loc"], values)
    same = [e["msg"] for e in errors if given_path(e["loc"], values) == path]
    message = " or ".join(dict.fromkeys(m.removeprefix("Input ") for m in same))
    value = first["input"] if kind == "type" else None
    if kind == "type" and len(path) < len(first["loc"]):  # the input of a union member
        value = _at(values, path)
    return Problem(kind, ".".join(map(str, path)), message, value, accepted)


def given_path(loc: tuple, values: Mapping) -> tuple:
    """The part of a pydantic error location that names keys of ``values``: the rest
    names an item of a list or a member of a union (``float``, ``literal[...]``)."""
    path: list = []
    node: Any = values
    for part in loc:
        if not isinstance(node, Mapping):
            break  # a list's item or a union member's name: the value is shown whole
        path.append(part)
        if isinstance(node, Mapping) and part not in node:
            break  # a missing key
        node = node[part]
    return tuple(path)


def _at(values: Mapping, path: tuple) -> Any:
    node: Any = values
    for part in path:
        node = node[part]
    return node


def checked_arguments(target: Callable, arguments: Mapping[str, Any], what: str) -> dict:
    """``arguments`` if ``target`` accepts every one of them with its type; otherwise a
    UserError naming ``what`` (e.g. "model alexnet") and the first problem."""
    problem = first_problem(target, arguments)
    if problem is None:
        return dict(arguments)
    if problem.kind == "unknown":
        accepted = ", ".join(problem.accepted)
        raise UserError(f"{what} has no argument {problem.name!r}; it accepts {accepted}")
    given = "" if problem.kind == "missing" else f" (got {problem.value!r})"
    raise UserError(f"{what}: {problem.name}: {problem.message}{given}")
