"""Ctrl-C and SIGTERM, whenever they come — while the command imports too — end it with
one line and the status a shell expects (128 + the signal's number); nothing half
written stays (files are written whole: alexnet.atomic). Training handles both itself
while it fits, with a checkpoint (alexnet.faults.signals). This module imports nothing
heavy: the entry points enter it first."""

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from alexnet.errors import StoppedBySignal


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, as Ctrl-C raises KeyboardInterrupt: past
    every ``except Exception``, so that the command ends."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


@contextmanager
def one_line_on_signals() -> Iterator[None]:
    """Run the command; SIGINT (Ctrl-C) or SIGTERM ends it with one ``error:`` line and
    exit status 130 or 143."""
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    except (KeyboardInterrupt, StoppedBySignal) as stopped:
        if isinstance(stopped, StoppedBySignal):
            signum = signal.Signals(stopped.signum)
        else:
            signum = signal.SIGTERM if isinstance(stopped, Terminated) else signal.SIGINT
        print(
            f"error: stopped by {signum.name} before it finished; what it wrote is whole: "
            "run the same command again (a training run: resume=<its run dir>)",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(128 + signum)
    finally:
        signal.signal(signal.SIGTERM, previous)
