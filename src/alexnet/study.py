"""Optuna sweeps whose study outlives the command: ``n_trials`` is the study's total,
rerunning the command continues it, and several copies of it share it.

Hydra's Optuna sweeper (1.3.0, the newest) asks ``n_trials`` more trials on every run
and knows nothing of other workers, and Optuna 2.10's own answer for several workers,
``MaxTrialsCallback``, overshoots by up to one trial per worker. So the loop of
``OptunaSweeperImpl.sweep`` is written again here around three things of the storage:

- a lock held while trials are claimed (a file lock beside a SQLite study, a session
  advisory lock on PostgreSQL), so that N workers together claim exactly ``n_trials``;
- heartbeats (Optuna's RDBStorage): a trial whose worker was killed goes stale and is
  failed, then retried with the same parameters (Optuna's ``RetryFailedTrialCallback``)
  or left failed, as ``died_trials`` says;
- outcomes: a finished job is COMPLETE with its value, a diverged one PRUNED (its
  parameters are bad, not its luck), a job that raised anything else FAIL.
"""

import hashlib
import logging
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
from filelock import FileLock
from hydra.core.utils import JobReturn, JobStatus
from hydra_plugins.hydra_optuna_sweeper._impl import (
    OptunaSweeperImpl,
    create_params_from_overrides,
)
from omegaconf import OmegaConf
from optuna.storages import RDBStorage, RetryFailedTrialCallback
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from alexnet.errors import Diverged, UserError
from alexnet.study_database import database_errors

log = logging.getLogger(__name__)
# Heartbeats and fail_stale_trials are "experimental" in Optuna 2.10 (and stable in 3).
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

#: What to do with a trial whose worker died (killed, preempted, lost machine).
DIED_TRIALS = ("retry", "skip")


@contextmanager
def study_lock(url: str, study_name: str) -> Iterator[None]:
    """Hold the lock that serialises claiming trials of ``study_name`` in ``url``.

    Optuna's storage API has no atomic "claim if under budget", so the database's own
    lock is used: SQLite is one file on one machine (a lock file beside it); PostgreSQL
    has session advisory locks, which several machines share through the server."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        with FileLock(f"{parsed.database}.lock"):
            yield
    else:
        key = int.from_bytes(hashlib.sha1(study_name.encode()).digest()[:7], "big")
        engine = create_engine(url, poolclass=NullPool)
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        engine.dispose()


def retried(trial: FrozenTrial, trials: Sequence[FrozenTrial]) -> bool:
    """Whether a later trial retries ``trial`` (Optuna's RetryFailedTrialCallback marks
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


@contextmanager
def heartbeats(study: optuna.Study, trials: Sequence[optuna.Trial]) -> Iterator[None]:
    """Record the trials' heartbeats every ``heartbeat_interval`` seconds while their
    jobs run (Optuna does this only inside ``study.optimize``, which Hydra does not use)."""
    storage = study._storage
    stop = threading.Event()

    def beat() -> None:
        while True:
            for trial in trials:
                storage.record_heartbeat(trial._trial_id)
            if stop.wait(storage.get_heartbeat_interval()):
                return

    thread = threading.Thread(target=beat, name="optuna-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


class StudySweeperImpl(OptunaSweeperImpl):
    """Hydra's Optuna sweeper with the study's total budget, resume and shared workers."""

    def __init__(
        self,
        *args: Any,
        died_trials: str,
        max_retry: int,
        heartbeat_interval: int,
        grace_period: int,
    ) -> None:
        super().__init__(*args)
        if died_trials not in DIED_TRIALS:
            raise UserError(f"hydra.sweeper.died_trials={died_trials}: choose retry or skip")
        self.died_trials = died_trials
        self.max_retry = max_retry
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period

    def _open_study(self) -> optuna.Study:
        if not self.storage:
            raise UserError("hydra.sweeper.storage is empty: give a SQLAlchemy URL")
        url = str(self.storage)
        if make_url(url).get_backend_name() not in ("sqlite", "postgresql"):
            raise UserError(
                f"hydra.sweeper.storage={url}: a shared study needs SQLite (one machine) "
                "or PostgreSQL (many machines)"
            )
        if make_url(url).get_backend_name() == "sqlite":
            Path(make_url(url).database).parent.mkdir(parents=True, exist_ok=True)
        with study_lock(url, self.study_name):  # workers starting together: one makes it
            storage = RDBStorage(
                url, heartbeat_interval=self.heartbeat_interval, grace_period=self.grace_period
            )
            return optuna.create_study(
                study_name=self.study_name,
                storage=storage,
                sampler=self.sampler,
                directions=self._get_directions(),
                load_if_exists=True,
            )

    def _claim(self, study: optuna.Study) -> list[optuna.Trial] | None:
        """Trials for this worker's next batch; [] to wait for other workers' running
        trials (they may yet fail and be retried); None when the study is done."""
        with study_lock(str(self.storage), self.study_name):
            for trial_id in study._storage.fail_stale_trials(study._study_id):
                self._retry(study, study._storage.get_trial(trial_id))
            trials = study.get_trials(deepcopy=False)
            free = self.n_trials - budget_used(trials)
            take = min(self.n_jobs, free + count(trials, TrialState.WAITING))
            if take > 0:
                return [study.ask() for _ in range(take)]
            return [] if count(trials, TrialState.RUNNING) else None

    def _trial_overrides(
        self, study: optuna.Study, trials: list[optuna.Trial], distributions: dict, fixed: dict
    ) -> list[tuple[str, ...]]:
        """Each trial's overrides (its parameters, its folder ``trial_<number>``)."""
        try:
            jobs = self._configure_trials(trials, distributions, fixed)
        except ValueError as err:  # Optuna: a parameter changed its kind of distribution
            for trial in trials:
                study.tell(trial, state=TrialState.FAIL)
            raise UserError(
                f"{err} The study {study.study_name} was made with another search space: "
                "give this one a new hydra.sweeper.study_name"
            ) from None
        return [
            (*job, f"hydra.sweep.subdir=trial_{trial.number:03d}")
            for trial, job in zip(trials, jobs, strict=True)
        ]

    def _retry(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """A trial whose worker died is failed; queue it again if ``died_trials=retry``.
        (Called here: Optuna 2.10's cached storage drops RDBStorage's failed_trial_callback.)"""
        if self.died_trials == "retry":
            RetryFailedTrialCallback(max_retry=self.max_retry)(study, trial)

    def _tell(self, study: optuna.Study, trial: optuna.Trial, ret: JobReturn) -> bool:
        """Record a job's outcome; True if it failed (an error, not divergence)."""
        if ret.status == JobStatus.COMPLETED:
            study.tell(trial, float(ret.return_value))
            return False
        error = ret._return_value
        trial.set_user_attr("stopped", f"{type(error).__name__}: {error}")
        if isinstance(error, Diverged):
            study.tell(trial, state=TrialState.PRUNED)
            return False
        study.tell(trial, state=TrialState.FAIL)
        log.warning(f"trial {trial.number} failed: {error}")
        return True

    def sweep(self, arguments: list[str]) -> None:
        self._process_searchspace_config()
        params = self._parse_sweeper_params_config() + list(arguments)
        distributions, fixed = create_params_from_overrides(params)
        distributions = {**(self.search_space_distributions or {}), **distributions}
        for name in fixed:
            distributions.pop(name, None)
        with database_errors(str(self.storage)):
            self._run_study(distributions, fixed)

    def _run_study(self, distributions: dict, fixed: dict) -> None:
        """Claim trials and run them until the study has all it asked for."""
        study = self._open_study()
        log.info(f"Study {study.study_name} in {self.storage}: {self.n_trials} trials in all")
        while (trials := self._claim(study)) is not None:
            if not trials:  # others' trials are running: see whether they finish or die
                time.sleep(self.heartbeat_interval)
                continue
            overrides = self._trial_overrides(study, trials, distributions, fixed)
            try:
                with heartbeats(study, trials):
                    returns = self.launcher.launch(overrides, initial_job_idx=self.job_idx)
            except BaseException:  # a signal stopped the sweep: the trials can run again
                for trial in trials:
                    study.tell(trial, state=TrialState.FAIL)
                    self._retry(study, study._storage.get_trial(trial._trial_id))
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
        log.info(
            f"Study {study.study_name}: {finished} complete, "
            f"{count(trials, TrialState.PRUNED)} diverged, "
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
