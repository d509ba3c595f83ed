"""Optuna sweeps whose study outlives the command: ``n_trials`` is the study's total,
rerunning the command continues it, and several copies of it share it.

Hydra's Optuna sweeper (hydra-optuna-sweeper 1.3.0, the newest) asks ``n_trials``
more trials on every run, knows nothing of other workers and pins Optuna below 3;
Optuna's own answer for several workers, ``MaxTrialsCallback``, overshoots by up to
one trial per worker. So the sweeper is ours, on Optuna's public API (the search space
from Hydra's override grammar: alexnet/sweeps/search_space.py), around three things of the
storage:

- a lock held while trials are claimed (a file lock beside a SQLite study or a
  journal, a session advisory lock on PostgreSQL), so that N workers together claim
  exactly ``n_trials``;
- heartbeats (RDBStorage's, or ours on a journal: alexnet/sweeps/storage.py): a trial
  whose worker was killed goes stale and is failed, then retried with the same
  parameters (Optuna's ``RetryHeartbeatStaleTrialCallback``) or left failed, as
  ``died_trials`` says;
- outcomes: a finished job is COMPLETE with its value, a diverged one PRUNED (its
  parameters are bad, not its luck), as is one that the study's pruner stopped (with
  ``hydra/sweeper/pruner=...``: each job reports ``pruning_metric`` every epoch, through
  alexnet/sweeps/pruning.py, to the trial whose number it gets as ``study_trial``);
  a job that raised anything else FAIL.
"""

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import optuna
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from alexnet.errors import Diverged, Pruned, UserError
from alexnet.sweeps.database import database_errors
from alexnet.sweeps.folder import (
    STUDY_ID,
    StudyRecord,
    has_trials,
    new_study_id,
    not_its_study,
    record_study,
    recorded_study,
)
from alexnet.sweeps.search_space import search_space, suggest
from alexnet.sweeps.storage import (
    absolute_storage,
    check_storage,
    fail_stale_trials,
    heartbeats,
    open_storage,
    optuna_quiet,
    storage_exists,
    study_lock,
)

log = logging.getLogger(__name__)

#: What to do with a trial whose worker died (killed, preempted, lost machine).
DIED_TRIALS = ("retry", "skip")


def retried(trial: FrozenTrial, trials: Sequence[FrozenTrial]) -> bool:
    """Whether a later trial retries ``trial`` (Optuna's RetryHeartbeatStaleTrialCallback marks
    each retry with the number of the first failed trial of its chain)."""
    first = trial.system_attrs.get("failed_trial", trial.number)
    return any(
        t.number > trial.number and t.system_attrs.get("failed_trial") == first for t in trials
    )


def budget_used(trials: Sequence[FrozenTrial]) -> int:
    """Trials that count towards ``n_trials``: run, running, waiting to run again, or
    failed for good (a failed trial that is retried is counted once, by its retry)."""
    return sum(t.state != TrialState.FAIL or not retried(t, trials) for t in trials)


def count(trials: Sequence[FrozenTrial], *states: TrialState) -> int:
    return sum(t.state in states for t in trials)


class StudySweeperImpl(Sweeper):
    """An Optuna sweeper with the study's total budget, resume and shared workers."""

    def __init__(
        self,
        sampler: optuna.samplers.BaseSampler,
        pruner: optuna.pruners.BasePruner | None,
        pruning_metric: str,
        direction: str,
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
        if died_trials not in DIED_TRIALS:
            raise UserError(f"hydra.sweeper.died_trials={died_trials}: choose retry or skip")
        if not 0.0 <= max_failure_rate <= 1.0:
            raise UserError(f"hydra.sweeper.max_failure_rate={max_failure_rate}: give 0 to 1")
        self.sampler, self.direction, self.storage = sampler, direction, storage
        self.pruner, self.pruning_metric = pruner, pruning_metric
        self.study_name, self.n_trials, self.n_jobs = study_name, n_trials, n_jobs
        self.max_failure_rate, self.params = max_failure_rate, params or {}
        self.died_trials = died_trials
        self.max_retry = max_retry
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period
        self.job_idx = 0

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )

    def _retry_callback(self) -> RetryHeartbeatStaleTrialCallback | None:
        if self.died_trials == "retry":
            with optuna_quiet():
                return RetryHeartbeatStaleTrialCallback(max_retry=self.max_retry)
        return None

    def _open_study(self) -> optuna.Study:
        """The study, made if it is new, in the storage the sweep folder records for it;
        refused, before anything is opened or written, where the folder holds another
        study's trials."""
        if not self.storage:
            raise UserError("hydra.sweeper.storage is empty: give a SQLAlchemy URL or journal:")
        check_storage(str(self.storage))
        self.storage = absolute_storage(str(self.storage))
        folder = Path(self.config.hydra.sweep.dir)
        recorded = recorded_study(folder)
        if recorded is not None and (recorded.storage, recorded.name) != (
            self.storage,
            self.study_name,
        ):
            raise not_its_study(folder, recorded, "")
        if recorded is not None and not storage_exists(self.storage):
            raise not_its_study(folder, recorded, ", which is no longer there")
        with study_lock(self.storage, self.study_name):  # workers starting together: one makes it
            self.opened = open_storage(
                self.storage, self.heartbeat_interval, self.grace_period, self._retry_callback()
            )
            if self.study_name not in optuna.get_all_study_names(self.opened):
                if recorded is not None:
                    raise not_its_study(folder, recorded, ", which that storage no longer holds")
                if has_trials(folder):
                    raise UserError(
                        f"{folder} holds the trials of a study that {self.storage} does not "
                        "hold: give this study a folder of its own with "
                        "hydra.sweep.dir=<new folder>"
                    )
            study = optuna.create_study(
                study_name=self.study_name,
                storage=self.opened,
                sampler=self.sampler,
                pruner=self.pruner,
                direction=str(self.direction),
                load_if_exists=True,
            )
            study_id = study.user_attrs.get(STUDY_ID)
            if study_id is None:
                study_id = new_study_id()
                study.set_user_attr(STUDY_ID, study_id)
            if recorded is None:
                record_study(
                    folder, StudyRecord(storage=self.storage, name=study.study_name, id=study_id)
                )
            elif recorded.id != study_id:
                raise not_its_study(folder, recorded, ", not the study of that name it holds now")
            return study

    def _claim(self, study: optuna.Study) -> list[optuna.Trial] | None:
        """Trials for this worker's next batch; [] to wait for other workers' running
        trials (they may yet fail and be retried); None when the study is done."""
        with study_lock(str(self.storage), self.study_name):
            fail_stale_trials(study, self.opened, self.grace_period, self._retry_callback())
            trials = study.get_trials(deepcopy=False)
            free = self.n_trials - budget_used(trials)
            take = min(self.n_jobs, free + count(trials, TrialState.WAITING))
            if take > 0:
                with optuna_quiet():
                    return [study.ask() for _ in range(take)]
            return [] if count(trials, TrialState.RUNNING) else None

    def _trial_overrides(
        self, study: optuna.Study, trials: list[optuna.Trial], space: dict, fixed: dict
    ) -> list[tuple[str, ...]]:
        """Each trial's overrides (its parameters, the fixed ones, its folder
        ``trial_<number>``, and its number when a pruner watches it)."""
        jobs = []
        for trial in trials:
            try:
                values = {name: suggest(trial, name, dist) for name, dist in space.items()}
            except ValueError as err:  # Optuna: a parameter changed its kind of distribution
                for claimed in trials:
                    study.tell(claimed, state=TrialState.FAIL)
                raise UserError(
                    f"{err} The study {study.study_name} was made with another search space: "
                    "give this one a new hydra.sweeper.study_name"
                ) from None
            overrides = [f"{name}={value}" for name, value in {**values, **fixed}.items()]
            overrides.append(f"hydra.sweep.subdir=trial_{trial.number:03d}")
            overrides.append(f"study_trial={trial.number}")  # the trial's study: its folder's
            jobs.append(tuple(overrides))
        return jobs

    def _retry(self, study: optuna.Study, number: int) -> None:
        """A trial stopped by a signal is failed; queue it again if ``died_trials=retry``."""
        callback = self._retry_callback()
        if callback is not None:
            callback(study, study.get_trials(deepcopy=False)[number])

    def _tell(self, study: optuna.Study, trial: optuna.Trial, ret: JobReturn) -> bool:
        """Record a job's outcome; True if it failed (an error, not divergence)."""
        if ret.status == JobStatus.COMPLETED:
            study.tell(trial, float(ret.return_value))
            return False
        try:
            _ = ret.return_value  # Hydra's public way to a failed job's exception: raising it
        except Exception as raised:
            error = raised
        trial.set_user_attr("stopped", f"{type(error).__name__}: {error}")
        if isinstance(error, Diverged | Pruned):
            study.tell(trial, state=TrialState.PRUNED)
            log.info(f"trial {trial.number} pruned: {error}")
            return False
        study.tell(trial, state=TrialState.FAIL)
        log.warning(f"trial {trial.number} failed: {error}")
        return True

    def sweep(self, arguments: list[str]) -> None:
        params = [f"{key}={value}" for key, value in self.params.items()]
        space, fixed = search_space(params + list(arguments))
        for name in fixed:
            space.pop(name, None)
        with database_errors(str(self.storage)):
            self._run_study(space, fixed)

    def _run_study(self, space: dict, fixed: dict) -> None:
        """Claim trials and run them until the study has all it asked for."""
        study = self._open_study()
        log.info(f"Study {study.study_name} in {self.storage}: {self.n_trials} trials in all")
        while (trials := self._claim(study)) is not None:
            if not trials:  # others' trials are running: see whether they finish or die
                time.sleep(self.heartbeat_interval)
                continue
            overrides = self._trial_overrides(study, trials, space, fixed)
            try:
                with heartbeats(self.opened, study, trials, self.heartbeat_interval):
                    returns = self.launcher.launch(overrides, initial_job_idx=self.job_idx)
            except BaseException:  # a signal stopped the sweep: the trials can run again
                for trial in trials:
                    study.tell(trial, state=TrialState.FAIL)
                    self._retry(study, trial.number)
                raise
            self.job_idx += len(returns)
            failed = sum(self._tell(study, t, r) for t, r in zip(trials, returns, strict=True))
            if failed / len(returns) > self.max_failure_rate:
                for ret in returns:
                    _ = ret.return_value  # raises the first failure with its traceback
        self._save_results(study)

    def _save_results(self, study: optuna.Study) -> None:
        trials = study.get_trials(deepcopy=False)
        finished = count(trials, TrialState.COMPLETE)
        diverged = sum(
            t.user_attrs.get("stopped", "").startswith(Diverged.__name__) for t in trials
        )
        log.info(
            f"Study {study.study_name}: {finished} complete, {diverged} diverged, "
            f"{count(trials, TrialState.PRUNED) - diverged} pruned, "
            f"{count(trials, TrialState.FAIL)} failed"
        )
        if not finished:
            return
        best = study.best_trial
        log.info(f"Best value {best.value} with {best.params}")
        results = {"name": "optuna", "best_params": best.params, "best_value": best.value}
        OmegaConf.save(
            OmegaConf.create(results), f"{self.config.hydra.sweep.dir}/optimization_results.yaml"
        )
