"""The body of every entry script (train.py, eval.py, ...): Ctrl-C and SIGTERM as one
line (alexnet.run.interrupts), the heavy imports with Python's cyclic garbage collector
paused, the task run as a Hydra app, and an exit that does not walk every object the
command made. Imports nothing heavy itself."""

import gc
import importlib
import os
from pathlib import Path

from alexnet.run.interrupts import one_line_on_signals
from alexnet.startup import mark


def run_command(config_dir: Path, config_name: str, task: str) -> None:
    """Run ``task`` (``"module:function"``) with the config ``config_name`` of
    ``config_dir``, as ``python <config_name>.py`` does.

    Importing torch, torchvision and Lightning makes millions of objects and no garbage
    worth collecting: with the collector off meanwhile they import about 0.8 s faster
    (4.1 s → 3.3 s on 2 cores). What they made is then frozen (``gc.freeze``): later
    collections skip it. At the end, whatever is left is frozen too, so that the
    interpreter's last collections at exit skip it (1.2 s → 0.2 s)."""
    # A W&B service of the process that started this command (a notebook, a driver
    # script, pytest: its token in WANDB_SERVICE) would hold this command's W&B runs:
    # killed with SIGKILL, a run stayed open there and its resume failed ("run ID ... is
    # in use"). The command starts a service of its own when it logs to W&B (ddp_spawn's
    # workers, which are not commands, still attach to it).
    os.environ.pop("WANDB_SERVICE", None)
    with one_line_on_signals():  # Ctrl-C or SIGTERM, even while importing: one line
        gc.disable()
        try:
            from alexnet.run.cli import run_hydra

            module, function = task.split(":")
            task_function = getattr(importlib.import_module(module), function)
        finally:
            gc.freeze()
            gc.enable()
        mark("imports")
        try:
            run_hydra(task_function, config_dir, config_name)
        finally:
            gc.freeze()
