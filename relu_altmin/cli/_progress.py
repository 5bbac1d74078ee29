"""Per-iteration progress lines on standard error (``Progress``)."""

from __future__ import annotations

import math
import shutil
import sys
import time
from types import TracebackType
from typing import IO

from .._fit import FitResult, IterationRecord
from .._model import TwoLayerNet


class Progress:
    """Per-iteration progress of ``fit`` or ``baselines.train``, passed as their ``callback``.

    On a terminal one line is redrawn in place (carriage return): a bar, the iteration, the
    training MSE, the pattern flips of the last iteration and the elapsed seconds. Elsewhere
    (a file, a pipe, a CI log) every ``every``-th iteration gets a line of its own. Use it as
    a context manager and call :meth:`finish` with the result::

        with Progress(100, "fit") as bar:
            result = fit(X, y, 16, max_iter=100, callback=bar)
            bar.finish(result)

    Parameters
    ----------
    total : int
        Iterations (or epochs) the run will take at most.
    label : str
        Names the run at the start of each line.
    stream : file-like, optional
        Where to write; default ``sys.stderr`` at the time of construction.
    tty : bool, optional
        Redraw in place; default ``stream.isatty()``.
    every : int, default 1
        Without a terminal, print iterations ``every, 2 every, ...`` (and the last).
    unit : str, default "iter"
        What an iteration is called: ``"iter"`` or ``"epoch"``.
    min_interval : float, default 0.1
        On a terminal, redraw at most this often (seconds); the last state is always drawn.
    """

    BAR_WIDTH = 20

    def __init__(self, total: int, label: str, *, stream: IO[str] | None = None,
                 tty: bool | None = None, every: int = 1, unit: str = "iter",
                 min_interval: float = 0.1) -> None:
        self.total, self.label, self.every, self.unit = total, label, max(1, every), unit
        self.stream = sys.stderr if stream is None else stream
        if tty is None:
            isatty = getattr(self.stream, "isatty", None)
            tty = bool(isatty()) if callable(isatty) else False
        self.tty, self.min_interval = tty, min_interval
        self.last: IterationRecord | None = None
        self._drawn_at = -math.inf
        self._drawn: IterationRecord | None = None
        self._width = 0  # of the line currently on the terminal; 0 when none is open

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._end_line()

    def __call__(self, record: IterationRecord, network: TwoLayerNet | None = None) -> bool:
        """Show ``record``; the ``callback`` protocol of ``fit`` (never asks it to stop)."""
        self.last = record
        if self.tty:
            now = time.monotonic()
            if now - self._drawn_at >= self.min_interval:
                self._draw(record)
                self._drawn_at = now
        elif record.iteration % self.every == 0 or record.iteration == self.total:
            self._print(self.line(record))
        return False

    def line(self, record: IterationRecord, bar: int = 0) -> str:
        """The text shown for ``record``, with a bar ``bar`` characters wide (0: none)."""
        digits = len(str(self.total))
        parts = [self.label]
        if bar > 0:
            filled = round(bar * record.iteration / self.total) if self.total else bar
            parts.append("[" + "#" * filled + "-" * (bar - filled) + "]")
        parts += [f"{self.unit} {record.iteration:>{digits}d}/{self.total}",
                  f"loss {record.loss:.6e}", f"flips {record.pattern_flips:>6d}",
                  f"{record.seconds:7.2f} s"]
        return "  ".join(parts)

    def finish(self, result: FitResult) -> None:
        """Draw the last state (on a terminal) and print how the run stopped."""
        if self.tty and self.last is not None and self._drawn is not self.last:
            self._draw(self.last)
        elif not self.tty and self.last is not None and self.last.iteration % self.every \
                and self.last.iteration != self.total:
            self._print(self.line(self.last))
        self._end_line()
        units = "iterations" if self.unit == "iter" else f"{self.unit}s"
        self._print(f"{self.label}  stopped: {result.stop_reason} after {result.n_iter} "
                    f"{units}, loss {result.loss:.6e}, {result.history[-1].seconds:.2f} s")

    def _draw(self, record: IterationRecord) -> None:
        # The bar takes what the terminal has left, up to BAR_WIDTH: a wrapped line would
        # defeat the carriage return.
        columns = shutil.get_terminal_size((80, 24)).columns
        room = columns - 1 - len(self.line(record)) - 4
        text = self.line(record, bar=min(room, self.BAR_WIDTH) if room >= 5 else 0)
        text = text[:max(columns - 1, 1)]
        self.stream.write("\r" + text + " " * max(self._width - len(text), 0))
        self.stream.flush()
        self._width, self._drawn = len(text), record

    def _end_line(self) -> None:
        if self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0

    def _print(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()
