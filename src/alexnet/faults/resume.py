"""Where a training run resumes from, whether it may, and what its run directory keeps.

``resume=<run dir>`` (or ``resume=last``) runs in that directory (see
alexnet.run.resolvers.run_dir), and a run whose directory already holds
``checkpoints/last.ckpt`` — resumed that way, or requeued by SLURM — continues from it.
``ckpt_path=`` resumes from any checkpoint into a new directory.

A resume is checked before it writes anything: its identity (alexnet.checkpoints.identity)
must be the checkpoint's, and it must not ask for fewer epochs than were done. Until
then the command's config waits beside the run's (Hydra writes it under a partial name,
alexnet.run.resolvers.config_subdir); a refused command's is deleted, an accepted one's
replaces the run's ``.hydra/``, and the run's log file gets its lines from then on.

The directory notes each resume in ``resumes.json``; the CSV log keeps its rows up to the
checkpoint (alexnet.loggers.continue_csv_log), TensorBoard purges its later events, and
W&B keeps the first value logged at a step.
"""

import datetime
import json
import os
import shutil
from pathlib import Path

from alexnet import console
from alexnet.atomic import partial_path
from alexnet.checkpoints import Checkpoint
from alexnet.checkpoints.identity import differences, identity, recorded_identity, training
from alexnet.errors import UserError
from alexnet.spec import Parts, TrainSpec

CONFIG = ".hydra"  # Hydra's record of the command, in the run directory
LAST = Path("checkpoints") / "last.ckpt"


def checkpoint_to_resume(spec: TrainSpec) -> str | None:
    """The checkpoint this run continues from, or None for a new run."""
    last = Path(spec.paths.output_dir) / LAST
    if spec.resume and spec.ckpt_path:
        raise UserError("give resume=<run dir> or ckpt_path=<checkpoint>, not both")
    if spec.ckpt_path:
        return spec.ckpt_path
    if last.is_file():
        return str(last)
    if spec.resume:
        raise UserError(f"resume={spec.resume}: there is no {last} to resume from")
    return None


def check_resume(
    resumed: Checkpoint, spec: TrainSpec, parts: Parts, fingerprint: dict | None = None
) -> None:
    """A UserError of one line unless ``spec`` continues the training ``resumed``
    records: each field that differs, and how to start anew instead. Without the data's
    ``fingerprint`` (before the data is read) the rest is checked, the class count
    where the config gives it."""
    run_dir = Path(spec.paths.output_dir)
    in_place = resumed.path.resolve() == (run_dir / LAST).resolve()
    asked = f"resume={run_dir}" if in_place else f"ckpt_path={resumed.path}"
    done, most = int(resumed.contents.get("epoch") or 0), spec.trainer.get("max_epochs")
    if most is not None and 0 <= most < done:
        raise UserError(
            f"{asked}: the run has done {done} epochs; trainer.max_epochs={most} would "
            f"undo them: give trainer.max_epochs={done} or more"
        )
    study = spec.sweep.study.identity() if spec.sweep and spec.sweep.study else None
    current = identity(parts, training(spec, parts), fingerprint, study)
    recorded = recorded_identity(resumed.record)
    if study is None and not in_place:  # a new run may continue a trial's training
        recorded.pop("study", None)
    if resumed.record.study is None and study is not None:
        recorded["study"] = {}
    if fingerprint is None:
        recorded.pop("data fingerprint", None)
        if parts.num_classes is None:  # the data will settle it
            for known in (recorded, current):
                known["model"].pop("model.num_classes", None)
                known["data"].pop("data.num_classes", None)
    changed = differences(recorded, current)
    if changed:
        raise UserError(
            f"{asked}: this command trains something else than the run it continues "
            f"({'; '.join(changed)}): start a new run (without "
            f"{asked.split('=')[0]}=), or fine-tune its weights with init_from={resumed.path}"
        )


def command_config_aside(run_dir: Path) -> bool:
    """Whether Hydra wrote this command's config aside in ``run_dir`` (a folder that
    already holds a run), to be kept once the command is checked."""
    return partial_path(run_dir / CONFIG).is_dir()


def keep_command_config(run_dir: Path) -> None:
    """The checked command's config replaces the run's; the run's log file gets the
    command's lines from now on."""
    aside = partial_path(run_dir / CONFIG)
    if aside.is_dir():
        for file in aside.iterdir():
            os.replace(file, run_dir / CONFIG / file.name)
        aside.rmdir()
    console.log_to_run_file()


def discard_command_config(run_dir: Path) -> None:
    """A refused command's config goes: the run's folder is as it was."""
    shutil.rmtree(partial_path(run_dir / CONFIG), ignore_errors=True)


def note_resume(output_dir: Path, checkpoint: Checkpoint) -> list[dict]:
    """Append this resume to ``resumes.json`` in the run directory; all of them."""
    listing = output_dir / "resumes.json"
    resumes = json.loads(listing.read_text()) if listing.is_file() else []
    resumes.append(
        {
            "checkpoint": str(checkpoint.path),
            "epoch": checkpoint.contents.get("epoch"),
            "global_step": checkpoint.global_step,
            "at": datetime.datetime.now().isoformat(timespec="seconds"),
        }
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    listing.write_text(json.dumps(resumes, indent=2) + "\n")
    return resumes
