"""Hydra finds sweepers only in the ``hydra_plugins`` namespace: this is the thin
plugin class; the sweep itself is :mod:`alexnet.sweeps.sweeper` (imported when it runs)."""

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class StudySweeper(Sweeper):
    """``hydra/sweeper=study``: Optuna with a study that outlives the command; its
    settings (configs/hydra/sweeper/study.yaml) are ``StudySweeperImpl``'s arguments."""

    def __init__(self, **settings: Any) -> None:
        from alexnet.sweeps.sweeper import StudySweeperImpl

        self.sweeper = StudySweeperImpl(**settings)

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.sweeper.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        return self.sweeper.sweep(arguments)
