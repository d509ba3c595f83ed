"""Everything a command says to its user goes through here: errors and warnings on
stderr (one line each, ``error: ...`` / ``warning: ...``), results and progress on
stdout, tables as Rich renders them on a terminal and as plain text in a file or a
pipe; every line also goes into the run's log file. Warnings and results come from the
first process only; an error from whichever process has it."""

import logging
import sys
from itertools import zip_longest

from lightning.pytorch.utilities import rank_zero_only
from rich.console import Console
from rich.table import Table

#: The run's log file alone: :func:`alexnet.run.cli.log_to_run_file` attaches the file
#: Hydra opened for the job; until then, and outside a run, nothing is written.
RUN_LOG = logging.getLogger("alexnet.run")
RUN_LOG.addHandler(logging.NullHandler())
RUN_LOG.propagate = False  # never to the console: the console gets the lines below


def on_terminal() -> bool:
    return sys.stdout.isatty()


def error(message: str) -> None:
    """``error: <message>`` on stderr, and in the log file."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    RUN_LOG.error(message)


@rank_zero_only
def warn(message: str) -> None:
    """``warning: <message>`` on stderr, and in the log file — not Python's warning
    format, which adds a source line."""
    print(f"warning: {message}", file=sys.stderr, flush=True)
    RUN_LOG.warning(message)


@rank_zero_only
def inform(message: str) -> None:
    """A line on stdout, and in the log file."""
    print(message, flush=True)
    RUN_LOG.info(message)


def plain_table(columns: list[str], rows: list[list[str]]) -> str:
    """Aligned text: the first column left-aligned, the others right-aligned; a cell of
    several lines takes as many."""
    cells = [[cell.split("\n") for cell in row] for row in [columns, *rows]]
    widths = [max(len(line) for row in cells for line in row[i]) for i in range(len(columns))]
    lines = []
    for row in cells:
        for parts in zip_longest(*row, fillvalue=""):
            aligned = (
                p.ljust(w) if i == 0 else p.rjust(w)
                for i, (p, w) in enumerate(zip(parts, widths, strict=True))
            )
            lines.append("  ".join(aligned).rstrip())
    return "\n".join(lines)


@rank_zero_only
def show_table(
    title: str, columns: list[str], rows: list[list[str]], row_lines: bool = False
) -> None:
    """A table under its title: Rich's on a terminal (``row_lines``: ruled between
    rows), plain text otherwise; the log file gets the plain text."""
    plain = plain_table(columns, rows)
    RUN_LOG.info(f"{title}\n{plain}")
    if not on_terminal():
        print(f"{title}\n{plain}", flush=True)
        return
    table = Table(title=title, show_lines=row_lines)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right", overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console(soft_wrap=True).print(table)


#: The loggers that write into a run's log file (the root logger: Hydra's own handlers).
RUN_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", RUN_LOG.name)


def log_to_run_file() -> None:
    """Send Lightning's messages and the console's to the run's log file, which Hydra
    attached to the root logger. (Lightning's loggers keep their own console handler
    and do not propagate when imported before Hydra sets up logging.)"""
    files = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    RUN_LOG.setLevel(logging.INFO)
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        for handler in logger.handlers[:]:  # an earlier job's file, in the same process
            if isinstance(handler, logging.FileHandler) and handler not in files:
                logger.removeHandler(handler)
        if name == RUN_LOG.name or not logger.propagate:
            for handler in files:
                if handler not in logger.handlers:
                    logger.addHandler(handler)
