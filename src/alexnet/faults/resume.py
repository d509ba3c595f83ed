"""Where a training run resumes from, and what its run directory keeps of it.

``resume=<run dir>`` (or ``resume=last``) runs in that directory (see
alexnet.run.resolvers.run_dir), and a run whose directory already holds
``checkpoints/last.ckpt`` — resumed that way, or requeued by SLURM — continues from it.
``ckpt_path=`` resumes from any checkpoint into a new directory. The directory notes
each resume in ``resumes.json``; the CSV log keeps its rows up to the checkpoint (the
resumed run writes the later ones again; the row of the checkpoint's own batch or epoch,
which Lightning writes after saving it, comes from the checkpoint if the kill came first),
TensorBoard purges its later events, and W&B keeps the first value logged at a step.
"""

import csv
import datetime
import json
import warnings
from pathlib import Path

from omegaconf import DictConfig

from alexnet.checkpoints import Checkpoint
from alexnet.run.errors import UserError
from alexnet.run.loggers import ContinuingCSVLogger


def checkpoint_to_resume(cfg: DictConfig, output_dir: Path) -> str | None:
    """The checkpoint this run continues from, or None for a new run."""
    last = output_dir / "checkpoints" / "last.ckpt"
    if cfg.get("resume") and cfg.get("ckpt_path"):
        raise UserError("give resume=<run dir> or ckpt_path=<checkpoint>, not both")
    if cfg.get("ckpt_path"):
        return str(cfg.ckpt_path)
    if last.is_file():
        return str(last)
    if cfg.get("resume"):
        raise UserError(f"resume={cfg.resume}: there is no {last} to resume from")
    return None


def continue_csv_log(logger: ContinuingCSVLogger, step: int, unlogged_row: dict) -> None:
    """Keep the rows of ``logger``'s existing metrics.csv before ``step`` (the resumed
    run writes the others again), add the checkpoint's ``unlogged_row`` if the killed
    run died before writing it, and let the logger append to them.
    (Lightning's CSV writer deletes an existing file when it starts.)"""
    metrics_csv = Path(logger.log_dir) / "metrics.csv"
    if not metrics_csv.is_file():
        return
    with open(metrics_csv, newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = list(reader.fieldnames or []), list(reader)
    kept = [row for row in rows if not row.get("step") or int(row["step"]) < step]
    written = {k: str(v) for k, v in unlogged_row.items()}
    if written and not any({k: v for k, v in row.items() if v} == written for row in kept):
        kept.append(written)
        fields = list({*fields, *written})
    with warnings.catch_warnings():  # "Previous log files ... will be deleted": not these
        warnings.filterwarnings("ignore", message=r".*Previous log files in this directory")
        logger.experiment  # noqa: B018  (creating Lightning's writer deletes the file)
    with open(metrics_csv, "w", newline="") as f:  # the logger continues from its header
        out = csv.DictWriter(f, fieldnames=sorted(fields))
        out.writeheader()
        out.writerows(kept)


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
