"""Child processes that end with their command: a worker (of a preparation, a data
loader) asks Linux to kill it when the process that started it dies
(``PR_SET_PDEATHSIG``), so that no worker outlives a command killed with SIGKILL —
one blocked writing a result into a pipe nobody reads would otherwise wait forever.
Python has no wrapper for ``prctl``; ctypes calls libc's. Elsewhere than Linux this
does nothing (macOS has no such call; a worker there ends when its pipe closes).

``python -m alexnet.processes COMMAND ...`` runs COMMAND so that it dies with the process
that started it (the setting outlives ``exec``): a driver's commands (the claims study's
runs) end when the driver is killed, even with SIGKILL. subprocess's ``preexec_fn`` could
do this without the extra exec, but it is unsafe in a program with threads."""

import ctypes
import os
import select
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def start_worker(*_: object, command: int | None = None) -> None:
    """In a freshly started worker process: signals are its command's to handle (Ctrl-C
    and SIGTERM, sent to the whole process group by a terminal or a scheduler, are left
    to the command, which stops its workers), and it dies with its parent — and with
    the process ``command``, where that is not its parent (a worker started by a fork
    server). Takes and ignores a worker's id (``worker_init_fn``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent()
    if command is not None and command != os.getppid():
        die_with(command)


def die_with(pid: int) -> None:
    """Exit when the process ``pid`` ends (a thread waits on its pidfd). A fork server's
    workers keep the server alive and watch it, not the command that asked for them,
    so without this they outlive a command killed with SIGKILL."""
    if sys.platform != "linux":
        return
    try:
        ending = os.pidfd_open(pid)
    except ProcessLookupError:  # it has ended already
        os._exit(1)

    def wait() -> None:
        select.select([ending], [], [])
        os._exit(1)

    threading.Thread(target=wait, name="die-with-command", daemon=True).start()


def die_with_parent() -> None:
    """Be killed when the parent process dies (and exit now if it already has)."""
    if sys.platform != "linux":
        return
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the call took effect
        os._exit(1)


if __name__ == "__main__":
    die_with_parent()
    os.execvp(sys.argv[1], sys.argv[1:])
