"""The exceptions that end a run with a message of one line and a known exit status
(printed by alexnet.run.cli through alexnet.console)."""

from collections.abc import Iterator

EXIT_USER_ERROR = 2
EXIT_DIVERGED = 3
EXIT_HUNG = 4
EXIT_LOST_PROCESS = 5
EXIT_PRUNED = 6


class StoppedBySignal(BaseException):
    """Ctrl-C or SIGTERM while Lightning runs a loop (alexnet.faults.signals): not a
    KeyboardInterrupt, which Lightning's loops catch and end with status 1 and a line of
    their own, but, like one, past every ``except Exception``."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class UserError(Exception):
    """A problem the user caused and can fix; the entry points print it as one line
    and exit with status 2. The message says what is wrong and what to do."""


class RunStopped(Exception):
    """Training stopped before it finished what it was asked (a signal, divergence):
    the entry points print the message as one line and exit with ``exit_code``. The
    run's checkpoint is left to resume from."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class Preempted(RunStopped):
    """SIGTERM or SIGINT: a checkpoint was written; the exit status is 128 + signal."""


class Diverged(RunStopped):
    """A non-finite loss, gradient or weight."""

    def __init__(self, message: str):
        super().__init__(message, EXIT_DIVERGED)


class Pruned(RunStopped):
    """A sweep's trial stopped by the study's pruner: the sweeper records it as pruned."""

    def __init__(self, message: str):
        super().__init__(message, EXIT_PRUNED)


def causes(err: BaseException | None) -> Iterator[BaseException]:
    """``err`` and the exceptions it was raised from or while handling (a resolver's)."""
    while err is not None:
        yield err
        err = err.__cause__ or err.__context__
