"""A study database that cannot be used — corrupt, locked by another process, on a full
or read-only disk — as one line with its path and what to do, for the sweeper and the
study's report."""

from collections.abc import Iterator
from contextlib import contextmanager

from optuna.exceptions import StorageInternalError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from alexnet.errors import UserError


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """A study database that is corrupt or locked by another process: one line with its
    path and what to do, instead of SQLAlchemy's traceback."""
    try:
        yield
    except (SQLAlchemyError, StorageInternalError) as err:
        parsed = make_url(url)  # a journal's errors are not SQLAlchemy's: only URLs here
        where = parsed.database if parsed.get_backend_name() == "sqlite" else parsed
        reason = " ".join(str(err.__cause__ or err).split()).split(" [SQL:")[0]
        if "locked" in reason:
            raise UserError(
                f"study database {where} is locked by another process ({reason}): wait for "
                "it to finish, or give this sweep another hydra.sweeper.storage"
            ) from None
        if "disk is full" in reason or "read-only" in reason or "readonly" in reason:
            raise UserError(
                f"study database {where} cannot be written ({reason}): free some space, or "
                "give hydra.sweeper.storage=<a database you can write>"
            ) from None
        if "malformed" in reason or "not a database" in reason:
            raise UserError(
                f"study database {where} is corrupt ({reason}): restore a backup of it, or "
                "start the study afresh with another hydra.sweeper.storage or study_name"
            ) from None
        raise
