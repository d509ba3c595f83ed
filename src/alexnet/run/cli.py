"""Run a task function as a Hydra app, turning user errors into one line + exit 2."""

import inspect
import logging
import os
import re
import shutil
import sys
import typing
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException, InstantiationException
from hydra.types import RunMode
from lightning.fabric.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
)

from alexnet import console
from alexnet.arguments import closest
from alexnet.errors import (
    EXIT_USER_ERROR,
    Diverged,
    Pruned,
    RunStopped,
    StoppedBySignal,
    UserError,
    causes,
)
from alexnet.faults.resume import command_config_aside, discard_command_config
from alexnet.module import EPOCH_METRICS
from alexnet.processes import die_with_parent
from alexnet.run.options import task_spec
from alexnet.run.paths import file_system_line
from alexnet.run.resolvers import JOB_DIR, register_resolvers
from alexnet.spec import TaskSpec
from alexnet.startup import mark
from alexnet.sweeps.folder import recorded_study

#: The process id of the command a user started, for the processes it starts.
COMMAND_PID = "ALEXNET_COMMAND_PID"


def user_error_in(err: BaseException | None) -> BaseException | None:
    """The user's mistake behind ``err``, if it is one: a UserError (which Hydra may
    wrap while instantiating or resolving), a place that cannot be written, a bad
    override or an unknown config option."""
    chain = list(causes(err))
    for link in chain:
        if isinstance(link, UserError):
            return link
    for link in chain:
        job_dir = next(iter(JOB_DIR), None)
        if isinstance(link, OSError) and (line := file_system_line(link, job_dir)):
            return UserError(line)
    for link in chain:
        if isinstance(link, (OmegaConfBaseException, MisconfigurationException)):
            return link  # Lightning's MisconfigurationException: a trainer.* setting
        if isinstance(link, CompactHydraException) and not isinstance(link, InstantiationException):
            return link
    return None


KEY_ERRORS = (ConfigKeyError, ConfigAttributeError)


def not_an_option(err: ConfigKeyError | ConfigAttributeError) -> str:
    """An override of a key the config does not have: the closest one that exists."""
    parent = err.full_key.rsplit(".", 1)[0] + "." if "." in err.full_key else ""
    keys = err.parent_node.keys() if isinstance(err.parent_node, DictConfig) else []
    options = [str(key) for key in keys if not str(key).startswith("_")]
    near = closest(str(err.key), options)
    hint = f"did you mean {parent}{near}?" if near else f"it has {', '.join(options)}"
    return f"{err.full_key} is not an option: {hint}"


def one_line(err: BaseException) -> str:
    """The message on one line: Hydra's "Config search path" appendix and OmegaConf's
    "full_key" lines left out, a DataLoader worker's traceback reduced to the message."""
    missing = re.search(r"Missing mandatory value: ([\w.]+)", str(err))
    if isinstance(err, MissingMandatoryValue) or missing:
        key = err.full_key if isinstance(err, MissingMandatoryValue) else missing.group(1)
        return f"{key} has no value: add {key}=... to the command"
    if isinstance(err, KEY_ERRORS) and err.full_key and err.parent_node is not None:
        return not_an_option(err)
    not_text = re.search(
        r"interpolation '\$\{([\w.]+)\}': Cannot convert '\w+' to string: '(.*)'", str(err)
    )
    if not_text:  # an option Hydra's own settings use as text (task_name)
        return f"{not_text.group(1)}={not_text.group(2)}: the value should be a valid string"
    if isinstance(err, OmegaConfBaseException):
        return str(err).splitlines()[0]
    if isinstance(err.__cause__, KEY_ERRORS) and "Could not override" in str(err):
        return one_line(err.__cause__)
    text = str(err).split("Config search path")[0].strip()
    if "Original Traceback" in text:  # torch re-raises worker errors with the traceback
        text = text.splitlines()[-1].split(": ", 1)[-1]
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def exit_if_user_error(err: Exception) -> None:
    """Print a user's mistake as one line and exit with status 2; return otherwise."""
    cause = user_error_in(err)
    if cause is not None:
        console.error(one_line(cause))
        sys.exit(EXIT_USER_ERROR)


@contextmanager
def user_errors_exit_2() -> Iterator[None]:
    """For the argparse tools: a UserError prints one line and exits with status 2."""
    try:
        yield
    except UserError as err:
        console.error(one_line(err))
        sys.exit(EXIT_USER_ERROR)


class _NoAdverts(logging.Filter):
    """Lightning's adverts, and its note that our model summary replaces its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("💡 Tip", "Trainer already configured with model"))


def stop(stopped: RunStopped) -> NoReturn:
    """The run stopped before it finished: one line, and its exit status."""
    console.error(one_line(stopped))
    sys.exit(stopped.exit_code)


def discard_if_unused(run_dir: Path) -> None:
    """Remove the run directory of a run that stopped before it wrote anything of its
    own (only Hydra's ``.hydra/`` and the log file): a mistake leaves nothing behind
    (where it can be removed)."""
    own = {path.name for path in run_dir.iterdir()} if run_dir.is_dir() else {"?"}
    if own <= {".hydra", f"{HydraConfig.get().job.name}.log"}:
        for logger in map(logging.getLogger, ("", *console.RUN_LOGGERS)):  # no handler writes there
            for handler in logger.handlers[:]:
                if isinstance(handler, logging.FileHandler) and Path(
                    handler.baseFilename
                ).is_relative_to(run_dir.resolve()):
                    logger.removeHandler(handler)
                    handler.close()
        shutil.rmtree(run_dir, ignore_errors=True)


def leave_run_dir_to_rank_0() -> None:
    """Under torchrun or srun each process runs Hydra; only global rank 0 writes the run
    directory (.hydra/, train.log): the others log to the console, through torchrun's or
    srun's output. (Lightning's own DDP children get their overrides from Lightning.)"""
    rank = int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0")))
    if rank > 0 and not any(arg.startswith("hydra.output_subdir=") for arg in sys.argv):
        sys.argv += ["hydra.output_subdir=null", "hydra/job_logging=stdout"]


def compose(config_dir: Path, config_name: str, overrides: list[str]) -> DictConfig:
    """The config that ``python <config_name>.py *overrides`` would run (for tests,
    benchmarks and experiments that call a task in-process: :func:`spec_of`)."""
    register_resolvers()
    with hydra.initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        return hydra.compose(config_name, overrides=overrides)


def spec_type_of(task: Callable) -> type[TaskSpec]:
    """The spec a task function takes (its one parameter's annotation)."""
    hints = typing.get_type_hints(task)
    return hints[next(iter(inspect.signature(task).parameters))]


def spec_of(task: Callable, cfg: DictConfig) -> TaskSpec:
    """The spec ``task`` takes, of the composed ``cfg``, and what the command line adds
    to a sweep's job (the sweep, its study: read from Hydra)."""
    spec_type = spec_type_of(task)
    added = {"sweep": sweep_of(cfg)} if "sweep" in spec_type.model_fields else {}
    return task_spec(cfg, spec_type, **added)


def sweep_of(cfg: DictConfig) -> dict | None:
    """The ``-m`` sweep this job runs in (None: a single run): its folder's name, and with
    the study sweeper the trial's study, as the sweep folder records it."""
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    hydra_cfg = HydraConfig.get()
    folder = Path(hydra_cfg.sweep.dir)
    if cfg.get("study_trial") is None:
        return {"name": folder.name}
    recorded = recorded_study(folder)
    if recorded is None:
        raise UserError("study_trial is set by the Optuna sweeper (hydra/sweeper=study) alone")
    sweeper = hydra_cfg.sweeper
    pruner = sweeper.get("pruner")
    metric = sweeper.get("pruning_metric", "val/acc")
    if metric not in EPOCH_METRICS:  # given with or without a pruner: a typo is a mistake
        near = closest(metric, EPOCH_METRICS)
        hint = f"did you mean {near}?" if near else f"give one of {', '.join(EPOCH_METRICS)}"
        raise UserError(f"hydra.sweeper.pruning_metric={metric} is not logged every epoch: {hint}")
    study = {
        **recorded.model_dump(),
        "trial": cfg.study_trial,
        "pruner": OmegaConf.to_container(pruner, resolve=True) if pruner else None,
        "pruning_metric": metric,
    }
    return {"name": folder.name, "study": study}


def run_hydra(task: Callable[[Any], object], config_dir: Path, config_name: str) -> None:
    """Call ``task`` with its spec through ``@hydra.main``; a mistake the user can fix
    prints ``error: ...`` on one line and exits with status 2, a bug keeps its traceback.
    A command that refuses writes nothing into a run that exists: in such a folder Hydra
    writes the command's config aside, and the task keeps it (alexnet.faults.resume)
    only once the run's identity is checked; the run's log file gets this command's
    lines from then on."""
    # Let exceptions reach us instead of Hydra printing and exiting with status 1.
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    # paths.root_dir: the directory the command runs in. An environment variable, not
    # ${hydra:runtime.cwd}, which sweepers cannot resolve when they name the sweep dir.
    os.environ.setdefault("ALEXNET_ROOT", os.getcwd())
    os.environ.setdefault("ALEXNET_CONFIG_DIR", str(config_dir))  # for --help
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).addFilter(_NoAdverts())
    # Lightning 2.6 calls a torch pytree API that torch 2.14 deprecates: not ours to fix.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    leave_run_dir_to_rank_0()
    register_resolvers()
    logging.raiseExceptions = False  # a log line that cannot be written is dropped, quietly

    os.environ.setdefault(COMMAND_PID, str(os.getpid()))  # the processes it starts know it

    def guarded_task(cfg: DictConfig) -> object:
        mark("composing the config")
        run_dir = Path(HydraConfig.get().runtime.output_dir)
        if HydraConfig.get().mode == RunMode.MULTIRUN and os.environ[COMMAND_PID] != str(
            os.getpid()
        ):
            die_with_parent()  # a launcher's worker (joblib's, submitit's): not an orphan
        if not command_config_aside(run_dir):
            console.log_to_run_file()
        try:
            spec = spec_of(task, cfg)
            mark("checking the options")
            result = task(spec)
        except RunStopped as stopped:
            if (
                isinstance(stopped, Diverged | Pruned)
                and HydraConfig.get().mode == RunMode.MULTIRUN
            ):
                raise  # a failed job: the sweeper records it (sweeps/sweeper.py) or stops the sweep
            stop(stopped)
        except (KeyboardInterrupt, StoppedBySignal):  # Ctrl-C, SIGTERM: nothing left
            discard_command_config(run_dir)
            discard_if_unused(run_dir)
            raise
        except Exception as err:
            try:
                exit_if_user_error(err)
            finally:  # a mistake: one line, and nothing left behind
                discard_command_config(run_dir)
                if user_error_in(err) is not None:
                    discard_if_unused(run_dir)
            raise
        metric = cfg.get("optimized_metric")
        return result[metric] if metric and isinstance(result, dict) else result

    main = hydra.main(version_base="1.3", config_path=str(config_dir), config_name=config_name)
    try:
        main(guarded_task)()
    except RunStopped as stopped:  # a grid sweep's diverged job
        stop(stopped)
    except Exception as err:  # composing the config failed: unknown option, bad override
        exit_if_user_error(err)
        raise
