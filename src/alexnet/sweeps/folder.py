"""A sweep folder knows its study: ``study.json`` names the storage, the study and the
study's own id (a study deleted and made again under the same name is another study).

The sweeper writes it when the study's first trials are claimed and checks it on every
rerun into the folder, before it opens or writes anything: the folder's trials belong
to that study, and another study (another storage, a deleted database, another name)
never resumes or writes into them. Each trial reads its study from it
(alexnet.run.cli.sweep_of), and ``python -m alexnet.report <sweep>`` finds the study
wherever its storage lives.
"""

import uuid
from pathlib import Path

import pydantic

from alexnet.atomic import write_atomically
from alexnet.errors import UserError

STUDY_FILE = "study.json"
STUDY_ID = "alexnet_study_id"  # the study's user attribute that holds its id


class StudyRecord(pydantic.BaseModel):
    """What a sweep folder records of its study."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True, frozen=True)
    storage: str
    name: str
    id: str


def recorded_study(folder: Path) -> StudyRecord | None:
    """The study ``folder`` records, None where it records none."""
    path = folder / STUDY_FILE
    if not path.is_file():
        return None
    try:
        return StudyRecord.model_validate_json(path.read_bytes())
    except (OSError, pydantic.ValidationError) as err:
        raise UserError(f"{path} is not a study record ({str(err).splitlines()[0]})") from None


def record_study(folder: Path, study: StudyRecord) -> None:
    write_atomically(folder / STUDY_FILE, lambda file: file.write(study.model_dump_json().encode()))


def new_study_id() -> str:
    return uuid.uuid4().hex


def not_its_study(folder: Path, recorded: StudyRecord, why: str) -> UserError:
    """The one line for a sweep folder whose study is not the one asked for."""
    return UserError(
        f"{folder} holds the trials of study {recorded.name} in {recorded.storage}{why}: "
        f"give this study a folder of its own with hydra.sweep.dir=<new folder> (or point "
        "hydra.sweeper.storage and hydra.sweeper.study_name back at that study)"
    )


def has_trials(folder: Path) -> bool:
    """Whether ``folder`` holds a trial's folder (one with Hydra's record of its job)."""
    return folder.is_dir() and any(folder.glob("*/.hydra"))
