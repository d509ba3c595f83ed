"""Hydra finds sweepers only in the ``hydra_plugins`` namespace: this is the thin
plugin class; the sweep itself is :mod:`alexnet.study` (imported when it runs)."""

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class StudySweeper(Sweeper):
    """``hydra/sweeper=study``: Optuna with a study that outlives the command."""

    def __init__(
        self,
        sampler: Any,
        direction: Any,
        storage: str,
        study_name: str,
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        params: DictConfig | None,
        died_trials: str,
        max_retry: int,
        heartbeat_interval: int,
        grace_period: int,
    ) -> None:
        from alexnet.study import StudySweeperImpl

        self.sweeper = StudySweeperImpl(
            sampler,
            direction,
            storage,
            study_name,
            n_trials,
            n_jobs,
            max_failure_rate,
            params,
            died_trials=died_trials,
            max_retry=max_retry,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
        )

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.sweeper.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        return self.sweeper.sweep(arguments)
