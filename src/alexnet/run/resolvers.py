"""OmegaConf resolvers the configs use, registered by :func:`register_resolvers`
(the entry points and :func:`alexnet.run.cli.compose` call it), and the sweep folder's claim."""

import itertools
import json
import os
from pathlib import Path
from typing import Any

import torch
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from alexnet.atomic import partial_path, remove_stale_partials
from alexnet.errors import UserError
from alexnet.faults.resume import CONFIG, LAST
from alexnet.run.config_help import config_help


def best_mixed_precision() -> str:
    """bf16-mixed on a GPU with bf16 (Ampere and newer), 16-mixed otherwise."""
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "16-mixed"


_CLAIMED: dict[str, str] = {}  # this process's run directory, however often it is resolved


def claim_new_dir(path: str) -> str:
    """``path``, or ``path_2``, ``path_3``, ...: the first this process creates. os.mkdir
    either creates a folder or fails, so two runs started in the same second never share
    one. The processes of one job that torchrun or srun start together (WORLD_SIZE or
    SLURM_NTASKS above 1) take ``path`` as it is: they share the run's folder, which the
    README asks to give them as hydra.run.dir."""
    if path not in _CLAIMED:
        if int(os.environ.get("WORLD_SIZE", os.environ.get("SLURM_NTASKS", "1"))) > 1:
            return path
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        for n in itertools.count(1):
            candidate = path if n == 1 else f"{path}_{n}"
            try:
                os.mkdir(candidate)
            except FileExistsError:
                continue
            _CLAIMED[path] = candidate
            break
    return _CLAIMED[path]


def a_run(folder: Path) -> Path:
    """``folder`` if it is a run directory to resume (it has checkpoints/last.ckpt);
    otherwise a UserError, raised before Hydra writes anything into it."""
    last = folder / "checkpoints" / "last.ckpt"
    if not last.is_file():
        what = "does not exist" if not folder.exists() else f"is not a run: it has no {last}"
        raise UserError(f"resume={folder} {what}; give a run directory (logs/train/runs/...)")
    return folder


def run_dir(resume: str | None, new_dir: str) -> str:
    """The run directory of a task: a new folder of its own (``new_dir``, suffixed when
    another run took that name), or with train.py's ``resume=<run dir>`` that directory
    (the run continues there), or with ``resume=last`` the run under the same runs
    folder whose last.ckpt was written most recently."""
    if resume is None:
        return claim_new_dir(new_dir)
    if not isinstance(resume, str):
        raise UserError(f"resume={resume}: give a run directory (logs/train/runs/...) or last")
    if resume != "last":
        return str(a_run(Path(resume)))
    runs = Path(new_dir).parent
    found = sorted(runs.glob("*/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
    return str(found[-1].parent.parent) if found else claim_new_dir(new_dir)


JOB_DIR: list[Path] = []  # the folder of this process's job, once Hydra knows it


def config_subdir(run_dir: str) -> str:
    """``hydra.output_subdir``: ``.hydra``, or in a folder that already holds a run (a
    resume, a requeued job) a folder beside it, kept once the command is checked
    (alexnet.faults.resume). (Resolved when Hydra writes into the job's folder: noted,
    for a failure to write there.)"""
    folder = Path(run_dir)
    JOB_DIR[:] = [folder]
    if not (folder / LAST).is_file():
        return CONFIG
    remove_stale_partials(folder)  # a killed command's
    return partial_path(folder / CONFIG).name


SWEEP_DIRS = "ALEXNET_SWEEP_DIRS"  # {name in the config: folder claimed}, for the jobs


def sweep_dir(name: str) -> str:
    """``${new_dir:<name>}``: the folder :class:`ClaimSweepDir` claimed for ``name``
    when the sweep started (``name`` before that). A lookup without side effects, since
    Hydra and OmegaConf resolve the config more often than once (merging, composing each
    job's); the claim travels in the environment to jobs in other processes (joblib's,
    submitit's), which start after it."""
    return json.loads(os.environ.get(SWEEP_DIRS, "{}")).get(name, name)


class ClaimSweepDir(Callback):
    """At the start of a ``-m`` sweep whose folder is ``${new_dir:...}``, claim it as
    :func:`claim_new_dir` claims a run's: two sweeps started in the same second get
    ``<date>_<time>`` and ``<date>_<time>_2``."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        raw = OmegaConf.to_container(config.hydra.sweep, resolve=False)["dir"]
        if isinstance(raw, str) and raw.startswith("${new_dir:"):
            name = str(config.hydra.sweep.dir)
            claimed = json.loads(os.environ.get(SWEEP_DIRS, "{}"))
            os.environ[SWEEP_DIRS] = json.dumps({**claimed, name: claim_new_dir(name)})


def register_resolvers() -> None:
    """Make the configs' ``${best_mixed_precision:}``, ``${run_dir:}``, ``${new_dir:}``,
    ``${config_help:}`` and ``${config_subdir:}`` known to OmegaConf (again: the same
    functions). Hydra's joblib and submitit launchers carry them to the jobs' processes
    (its singleton state)."""
    for name, function in (
        ("best_mixed_precision", best_mixed_precision),
        ("run_dir", run_dir),
        ("new_dir", sweep_dir),
        ("config_help", config_help),
        ("config_subdir", config_subdir),
    ):
        OmegaConf.register_new_resolver(name, function, replace=True)
