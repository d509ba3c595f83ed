"""A sweep's command-line overrides as Optuna distributions.

Hydra's override grammar says what to search: ``choice(32, 64)`` and ``range(1, 5)``
are categorical or integer, ``interval(0.0, 0.7)`` uniform, ``tag(log, interval(1e-4,
1e-1))`` log-uniform; an override without a sweep is fixed. Written here (as in
hydra-optuna-sweeper, which pins Optuna below 3) with the distribution classes of
Optuna 3 and later: FloatDistribution, IntDistribution, CategoricalDistribution.
"""

from typing import Any

import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, Transformer
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from alexnet.errors import UserError


def _choices(override: Override) -> CategoricalDistribution:
    return CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))


def distribution(override: Override) -> BaseDistribution | str:
    """The distribution an override sweeps, or its value as text if it sweeps none."""
    if not override.is_sweep_override():
        return override.get_value_element_as_str()
    value = override.value()
    if override.is_choice_sweep() or (override.is_range_sweep() and value.shuffle):
        return _choices(override)
    if override.is_range_sweep():  # range(start, stop, step): stop excluded, as in Python
        numbers = (value.start, value.stop, value.step)
        if any(isinstance(n, float) for n in numbers):
            return FloatDistribution(value.start, value.stop - value.step, step=value.step)
        return IntDistribution(int(value.start), int(value.stop) - 1, step=int(value.step))
    if override.is_interval_sweep():  # Hydra's interval is of floats (choice/range: ints)
        return FloatDistribution(value.start, value.end, log="log" in value.tags)
    raise UserError(f"{override.input_line}: an Optuna sweep takes choice, range or interval")


def search_space(arguments: list[str]) -> tuple[dict[str, BaseDistribution], dict[str, str]]:
    """(distributions to search, fixed overrides) of ``key=value`` arguments."""
    searched: dict[str, BaseDistribution] = {}
    fixed: dict[str, str] = {}
    for override in OverridesParser.create().parse_overrides(arguments):
        found = distribution(override)
        if isinstance(found, BaseDistribution):
            searched[override.get_key_element()] = found
        else:
            fixed[override.get_key_element()] = found
    return searched, fixed


def suggest(trial: optuna.Trial, name: str, space: BaseDistribution) -> Any:
    """``trial``'s value of ``name`` from ``space``, through Optuna's public suggest API."""
    if isinstance(space, CategoricalDistribution):
        return trial.suggest_categorical(name, space.choices)
    if isinstance(space, IntDistribution):
        return trial.suggest_int(name, space.low, space.high, step=space.step, log=space.log)
    return trial.suggest_float(name, space.low, space.high, step=space.step, log=space.log)
