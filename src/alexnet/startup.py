"""Where a command's start-up goes: the time since the process started at the end of
each phase (imports, composing and checking the config, the data, the loggers, the
trainer, sanity validation, the first step), kept as they pass and written to the
run's log at debug level once the first training step is done
(:class:`alexnet.callbacks.startup.StartupPhases`), one line per phase, so that a
slower start-up shows up as a row. Imports nothing heavy: the entry points use it
before they import the rest."""

import logging
import os
import time

#: The run's log file (a child of alexnet.console.RUN_LOG), at debug level.
LOG = logging.getLogger("alexnet.run.startup")
LOG.setLevel(logging.DEBUG)


def _process_started() -> float:
    """``time.monotonic()`` when this process started: Linux's /proc gives the start in
    clock ticks since boot (what psutil's ``create_time`` reads, without importing
    psutil); elsewhere, the first import of this module."""
    try:
        with open(f"/proc/{os.getpid()}/stat") as stat:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
        since_boot = time.clock_gettime(time.CLOCK_BOOTTIME)
        return time.monotonic() - (since_boot - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic()


#: A training run's phases, in the order they end (a run without sanity validation
#: has no such line).
TRAINING_PHASES = (
    "imports",
    "composing the config",
    "checking the options",
    "data set-up",
    "model",
    "callbacks and trainer",
    "loggers",
    "fit set-up",
    "sanity validation",
    "first batch",
    "first step",
)

STARTED = _process_started()
#: (phase, seconds since the process started at its end), in the order they ended.
PHASES: list[tuple[str, float]] = []


def mark(phase: str) -> None:
    """``phase`` ended now."""
    PHASES.append((phase, time.monotonic() - STARTED))


def log_phases() -> None:
    """The phases so far into the run's log, at debug level: ``start-up: <phase>
    <its seconds> (<seconds since the process started>)``."""
    before = 0.0
    for phase, at in PHASES:
        LOG.debug("start-up: %s %.2f s (%.2f s)", phase, at - before, at)
        before = at
