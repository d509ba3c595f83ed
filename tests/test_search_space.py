"""A sweep's overrides as Optuna distributions (alexnet/sweeps/search_space.py)."""

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from alexnet.sweeps.search_space import search_space, suggest


def test_every_kind_of_sweep_becomes_its_distribution():
    space, fixed = search_space(
        [
            "optimizer.lr=tag(log, interval(0.001, 0.1))",
            "model.dropout=interval(0.0, 0.7)",
            "data.batch_size=choice(32, 64, 128)",
            "trainer.max_epochs=range(2, 8, 2)",
            "model.width=range(0.5, 2.0, 0.5)",
            "seed=7",
        ]
    )
    assert space == {
        "optimizer.lr": FloatDistribution(0.001, 0.1, log=True),
        "model.dropout": FloatDistribution(0.0, 0.7),
        "data.batch_size": CategoricalDistribution([32, 64, 128]),
        "trainer.max_epochs": IntDistribution(2, 6, step=2),  # range's stop is excluded
        "model.width": FloatDistribution(0.5, 1.5, step=0.5),
    }
    assert fixed == {"seed": "7"}


def test_a_trial_suggests_from_each_kind():
    space, _ = search_space(["a=tag(log, interval(0.001, 0.1))", "b=choice(x, y)", "c=range(1, 4)"])
    trial = optuna.create_study().ask()
    values = {name: suggest(trial, name, dist) for name, dist in space.items()}
    assert 0.001 <= values["a"] <= 0.1 and values["b"] in ("x", "y") and values["c"] in (1, 2, 3)
    assert trial.distributions == space
