"""Exit statuses, the two exceptions a command ends with, and one-line message helpers."""

from __future__ import annotations

from pathlib import Path

#: Exit statuses: success, an output that could not be written (or the run failed), a bad
#: command line or input, an interrupt (Ctrl-C).
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class CommandError(Exception):
    """A user-facing error, printed as one line ``relu-altmin COMMAND: error: MESSAGE``.

    Parameters
    ----------
    message : str
        What went wrong; newlines are folded into spaces when printed.
    status : int, default 2
        Exit status: ``EXIT_USAGE`` (2) for bad input, ``EXIT_FAILURE`` (1) for an output
        that could not be written.
    """

    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


class Interrupted(Exception):
    """Ctrl-C ended a run whose result was kept: one line ``relu-altmin COMMAND: interrupted
    MESSAGE`` on standard error and exit status 130 (``EXIT_INTERRUPTED``)."""


def _show(path: str | Path) -> str:
    """``path`` for a one-line message: as given, or its ``repr`` if it has odd characters."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def _one_line(text: object) -> str:
    """``str(text)`` with every run of whitespace (newlines included) one space."""
    return " ".join(str(text).split())
