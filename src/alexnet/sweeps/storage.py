"""Where a study lives, and how its workers keep it honest: opening the storage, the
lock under which trials are claimed, heartbeats, and failing the trials of dead workers.

Three storages, by ``hydra.sweeper.storage``:
- ``sqlite:///<file>``: one machine (a lock file beside the database);
- ``postgresql://...``: many machines (PostgreSQL's session advisory lock);
- ``journal:<file>``: many machines sharing a file system (NFS, Lustre) and no
  database server: Optuna's JournalStorage with its file backend, and a lock file
  beside the journal. JournalStorage keeps no heartbeats (Optuna's heartbeats are
  RDBStorage's), so here a running trial's worker writes the time into the trial
  (system attribute ``heartbeat``) every ``heartbeat_interval`` seconds, and a trial
  whose last heartbeat is older than ``grace_period`` is failed by the next worker that
  claims trials, then retried as on a database. The machines' clocks must agree to
  well within ``grace_period`` (NTP does).
"""

import hashlib
import shutil
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import optuna
from filelock import FileLock
from optuna.storages import BaseStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from alexnet.atomic import FULL_BELOW
from alexnet.errors import UserError

JOURNAL = "journal:"
HEARTBEAT = "heartbeat"  # the journal's heartbeats: a trial system attribute, in seconds
PRUNED = "pruned"  # a trial's user attribute: {"epoch", "metric", "value"} when pruned


@contextmanager
def optuna_quiet() -> Iterator[None]:
    """Quiet two of Optuna's warnings that say nothing to a user here: heartbeats, their
    retry callback and ``fail_stale_trials`` have been "experimental" since Optuna 2.8
    and still are in 5, and ``ask`` on a storage with heartbeats warns that they are for
    ``Study.optimize`` (the sweeper records them itself: ``heartbeats``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", "Heartbeat of storage is supposed to be used")
        yield


def journal_path(url: str) -> Path | None:
    """The journal file of a ``journal:<file>`` storage, None for a database URL."""
    return Path(url.removeprefix(JOURNAL)) if url.startswith(JOURNAL) else None


def check_storage(url: str) -> None:
    """A UserError unless ``url`` is a storage a shared study can live in."""
    if journal_path(url) is None and make_url(url).get_backend_name() not in (
        "sqlite",
        "postgresql",
    ):
        raise UserError(
            f"hydra.sweeper.storage={url}: a shared study needs SQLite (one machine), "
            "PostgreSQL (many machines) or journal:<file> (many machines, a shared file system)"
        )
    file = study_file(url)
    if file is not None and file.parent.is_dir():
        free = shutil.disk_usage(file.parent).free
        if free < FULL_BELOW:  # Optuna's journal retries its lock for ever on a full disk
            raise UserError(
                f"no space left for the study at {file} ({free // 1024} KiB free): free some "
                "space, or give hydra.sweeper.storage=<a place with room>"
            )


def study_file(url: str) -> Path | None:
    """The file a SQLite or journal storage keeps the study in; None for a server's."""
    journal = journal_path(url)
    if journal is not None:
        return journal
    parsed = make_url(url)
    in_a_file = parsed.get_backend_name() == "sqlite" and parsed.database not in (
        None,
        "",
        ":memory:",
    )
    return Path(parsed.database) if in_a_file else None


def absolute_storage(url: str) -> str:
    """``url`` with a SQLite database's or a journal's path made absolute, as a sweep
    folder records it (the report may run from another folder)."""
    journal = journal_path(url)
    if journal is not None:
        return f"{JOURNAL}{journal.absolute()}"
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        absolute = parsed.set(database=str(Path(parsed.database).absolute()))
        return absolute.render_as_string(hide_password=False)
    return url


def storage_exists(url: str) -> bool:
    """Whether the file of a SQLite or journal storage is there (a server: assumed)."""
    file = study_file(url)
    return file is None or file.exists()


def open_storage(
    url: str,
    heartbeat_interval: int = 60,
    grace_period: int = 120,
    stale_trial_callback: Callable[[optuna.Study, FrozenTrial], None] | None = None,
) -> BaseStorage:
    """The storage of ``url``, its folder made (SQLite, journal)."""
    journal = journal_path(url)
    if journal is not None:
        journal.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(journal)))
    if make_url(url).get_backend_name() == "sqlite":
        Path(make_url(url).database).parent.mkdir(parents=True, exist_ok=True)
    with optuna_quiet():
        return RDBStorage(
            url,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            heartbeat_stale_trial_callback=stale_trial_callback,
        )


@contextmanager
def study_lock(url: str, study_name: str) -> Iterator[None]:
    """Hold the lock that serialises claiming trials of ``study_name`` in ``url``.

    Optuna's storage API has no atomic "claim if under budget", so the storage's own
    place is locked: a lock file beside a SQLite database or a journal (``.claims.lock``
    there: ``<journal>.lock`` is the journal's own write lock, which Optuna breaks after
    30 s as stale); PostgreSQL's session advisory lock, which several machines share
    through the server."""
    journal = journal_path(url)
    if journal is not None or make_url(url).get_backend_name() == "sqlite":
        with FileLock(f"{journal}.claims.lock" if journal else f"{make_url(url).database}.lock"):
            yield
        return
    key = int.from_bytes(hashlib.sha1(study_name.encode()).digest()[:7], "big")
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    engine.dispose()


def trial_id(storage: BaseStorage, study: optuna.Study, number: int) -> int:
    """The storage's id of trial ``number`` of ``study`` (heartbeats are kept by id)."""
    study_id = storage.get_study_id_from_name(study.study_name)
    return storage.get_trial_id_from_study_id_trial_number(study_id, number)


@contextmanager
def heartbeats(
    storage: BaseStorage, study: optuna.Study, trials: Sequence[optuna.Trial], interval: int
) -> Iterator[None]:
    """Record the trials' heartbeats every ``interval`` seconds while their jobs run
    (Optuna does this only inside ``study.optimize``, which Hydra does not use)."""
    ids = [trial_id(storage, study, trial.number) for trial in trials]
    stop = threading.Event()

    def beat() -> None:
        while True:
            for id_ in ids:
                if isinstance(storage, RDBStorage):
                    storage.record_heartbeat(id_)
                else:
                    storage.set_trial_system_attr(id_, HEARTBEAT, time.time())
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name="optuna-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def fail_stale_trials(
    study: optuna.Study,
    storage: BaseStorage,
    grace_period: int,
    stale_trial_callback: Callable[[optuna.Study, FrozenTrial], None] | None,
) -> None:
    """Fail the running trials whose worker stopped beating (and retry them through
    ``stale_trial_callback``): Optuna's own for a database, ours for a journal."""
    if isinstance(storage, RDBStorage):
        with optuna_quiet():
            optuna.storages.fail_stale_trials(study)  # the storage calls the callback
        return
    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        started = trial.datetime_start.timestamp() if trial.datetime_start else now
        if now - trial.system_attrs.get(HEARTBEAT, started) > grace_period:
            if storage.set_trial_state_values(
                trial_id(storage, study, trial.number), TrialState.FAIL
            ):
                if stale_trial_callback is not None:
                    stale_trial_callback(study, study.get_trials(deepcopy=False)[trial.number])
