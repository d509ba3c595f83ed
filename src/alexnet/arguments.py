"""Checking keyword arguments against a constructor's signature before calling it.

Model and dataset arguments come from configs and from checkpoints, which are data
from strangers: a name that is not a parameter, or a value of the wrong type, must
stop with one line instead of reaching the constructor. pydantic does the type
checking (strict: no "3" for 3); this module only builds its model from a signature.
"""

import inspect
import typing
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import pydantic

from alexnet.errors import UserError

_SKIPPED_KINDS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _parameters(target: Callable) -> dict[str, tuple[Any, Any]]:
    """name → (annotation, default or ...) of every keyword ``target`` accepts; for a
    class, the ``__init__`` parameters along its bases (subclasses pass ``**kwargs`` on);
    for a ``functools.partial``, those its keywords do not already fix."""
    fixed: set[str] = set()
    if isinstance(target, partial):
        fixed = set(target.keywords)
        target = target.func
    functions = (
        [k.__init__ for k in target.__mro__ if "__init__" in vars(k) and k is not object]
        if inspect.isclass(target)
        else [target]
    )
    fields: dict[str, tuple[Any, Any]] = {}
    for function in functions:
        hints = typing.get_type_hints(function)
        for name, p in inspect.signature(function).parameters.items():
            if name in ("self", *fixed) or p.kind in _SKIPPED_KINDS or name in fields:
                continue
            default = ... if p.default is inspect.Parameter.empty else p.default
            fields[name] = (hints.get(name, Any), default)
        if not any(
            p.kind is inspect.Parameter.VAR_KEYWORD
            for p in inspect.signature(function).parameters.values()
        ):
            break  # nothing is passed on to the base class
    return fields


def checked_arguments(target: Callable, arguments: Mapping[str, Any], what: str) -> dict:
    """``arguments`` if ``target`` accepts every one of them with its type; otherwise a
    UserError naming ``what`` (e.g. "model alexnet") and the first problem."""
    fields = {
        name: (annotation, pydantic.Field(default=default))
        for name, (annotation, default) in _parameters(target).items()
        if name in arguments or default is ...
    }
    config = pydantic.ConfigDict(extra="forbid", strict=True, arbitrary_types_allowed=True)
    model = pydantic.create_model("Arguments", __config__=config, **fields)
    try:
        model.model_validate(dict(arguments))
    except pydantic.ValidationError as err:
        problem = err.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "arguments"
        if problem["type"] == "extra_forbidden":
            accepted = ", ".join(sorted(_parameters(target)))
            raise UserError(f"{what} has no argument {where!r}; it accepts {accepted}") from None
        given = "" if problem["type"] == "missing" else f" (got {problem['input']!r})"
        raise UserError(f"{what}: {where}: {problem['msg']}{given}") from None
    return dict(arguments)
