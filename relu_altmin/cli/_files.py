"""The ``relu-altmin`` command line: ``fit``, ``predict``, ``demo`` and ``bench``.

Every command prints its results on standard output (or, with ``--json``, one JSON document
and nothing else) and its progress on standard error. A bad command line, an unreadable or
malformed file or an invalid setting ends with one line ``relu-altmin COMMAND: error: ...``
on standard error and exit status 2; an output file that cannot be written with status 1.
``docs/cli.md`` lists every option, message and exit status.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np

from . import __version__
from ._data import load_diabetes
from ._fit import SOLVERS, FitInterrupted, FitResult, IterationRecord, fit
from ._model import TwoLayerNet
from ._steps import STEPS
from .baselines import train

#: Exit statuses: success, an output that could not be written (or the run failed), a bad
#: command line or input, an interrupt (Ctrl-C).
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
#: ``relu-altmin fit``'s default ``--hidden`` (without ``--init``).
FIT_HIDDEN = 32
#: File types ``read_table`` reads: comma-separated text, or a NumPy ``.npy`` array.
TEXT_SUFFIXES = (".csv", ".txt")
ARRAY_SUFFIXES = (".npy",)
#: ``demo``'s side-by-side and ``bench``'s default grid: full-batch Adam from fit's start.
DEMO_ADAM_RATES = (1e-3, 3e-3, 1e-2, 3e-2)
DEMO_ADAM_EPOCHS = 2000
#: The pip command that provides ``--plot``.
PLOT_INSTALL = 'pip install matplotlib (or pip install "relu-altmin[plot]")'


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


# --------------------------------------------------------------------------------------------
# Reading and writing files


def _show(path: str | Path) -> str:
    """``path`` for a one-line message: as given, or its ``repr`` if it has odd characters."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def _field(text: str, limit: int = 30) -> str:
    """A CSV field quoted for a message, shortened if long."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _one_line(text: object) -> str:
    """``str(text)`` with every run of whitespace (newlines included) one space."""
    return " ".join(str(text).split())


def _existing_file(path: str) -> Path:
    file = Path(path)
    if file.is_dir():
        raise CommandError(f"{_show(path)}: is a directory, not a file")
    if not file.exists():
        raise CommandError(f"{_show(path)}: no such file")
    return file


def _open_binary(path: str, file: Path) -> IO[bytes]:
    try:
        return file.open("rb")
    except OSError as exc:
        raise CommandError(f"{_show(path)}: cannot read ({exc.strerror or exc})") from None


NPY_MAGIC, ZIP_MAGIC = b"\x93NUMPY", b"PK\x03\x04"


def _magic(path: str, handle: IO[bytes]) -> bytes:
    """The first bytes of a binary file (``NPY_MAGIC``, ``ZIP_MAGIC``, other or none); rewinds."""
    try:
        start = handle.read(6)
        handle.seek(0)
    except OSError as exc:
        raise CommandError(f"{_show(path)}: cannot read ({exc.strerror or exc})") from None
    return start if start == NPY_MAGIC else start[:4]


def read_table(path: str) -> np.ndarray:
    """Read a 2-D table of finite real numbers from a CSV or ``.npy`` file.

    Parameters
    ----------
    path : str
        A ``.csv`` or ``.txt`` file of comma-separated numbers (one optional header row whose
        fields are all non-numeric; blank lines and ``#`` comments are skipped), or a ``.npy``
        array with one or two dimensions (a 1-D array is one column).

    Returns
    -------
    numpy.ndarray, shape (rows, columns), float64

    Raises
    ------
    CommandError
        With a one-line message naming the file and, where there is one, the line (CSV) or
        row and column of the problem: a missing file, a directory, an unknown extension, an
        empty file, a non-numeric field, rows of different lengths, NaN or inf, a ``.npy``
        that does not load or does not hold a 1-D or 2-D real array.
    """
    file = _existing_file(path)
    suffix = file.suffix.lower()
    if suffix in ARRAY_SUFFIXES:
        return _read_npy(path, file)
    if suffix in TEXT_SUFFIXES:
        return _read_csv(path, file)
    kinds = ", ".join(TEXT_SUFFIXES + ARRAY_SUFFIXES)
    raise CommandError(f"{_show(path)}: unknown file type {suffix or '(no extension)'!r}; "
                       f"expected {kinds}")


def _read_npy(path: str, file: Path) -> np.ndarray:
    with _open_binary(path, file) as handle:
        magic = _magic(path, handle)
        if not magic:
            raise CommandError(f"{_show(path)}: empty file")
        if magic not in (NPY_MAGIC, ZIP_MAGIC):
            raise CommandError(f"{_show(path)}: not a .npy file (no NumPy header)")
        try:
            loaded = np.load(handle, allow_pickle=False)
        except Exception as exc:  # any parse failure of an arbitrary file is the user's input
            raise CommandError(f"{_show(path)}: not a readable .npy array ({type(exc).__name__}"
                               f": {_one_line(exc) or 'no details'})") from None
        if not isinstance(loaded, np.ndarray):  # a zip archive (.npz) renamed to .npy
            loaded.close()
            raise CommandError(f"{_show(path)}: not a .npy array (it is an .npz archive)")
    if loaded.dtype.kind not in "iuf":
        raise CommandError(f"{_show(path)}: expected real numbers, got dtype {loaded.dtype}")
    if loaded.ndim == 1:
        loaded = loaded[:, None]
    if loaded.ndim != 2:
        raise CommandError(f"{_show(path)}: expected a 1-D or 2-D array, got shape "
                           f"{loaded.shape}")
    if loaded.size == 0:
        raise CommandError(f"{_show(path)}: empty array, shape {loaded.shape}")
    table = np.asarray(loaded, dtype=np.float64)
    _reject_non_finite(path, table, lambda row: f"row {row + 1}")
    return table


def _reject_non_finite(path: str, table: np.ndarray, where: Callable[[int], str]) -> None:
    """``CommandError`` at the first NaN or inf of ``table``; ``where(row)`` names its row."""
    bad = np.argwhere(~np.isfinite(table))
    if bad.size:
        row, col = bad[0]
        raise CommandError(f"{_show(path)}: {where(int(row))}, column {col + 1} is "
                           f"{table[row, col]} (NaN and inf are not allowed)")


def _number(text: str) -> bool:
    """Whether a CSV field is a number as NumPy's reader takes it."""
    text = text.strip()
    if not text.isascii() or "_" in text:
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(path: str, file: Path) -> np.ndarray:
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise CommandError(f"{_show(path)}: not a UTF-8 text file") from None
    except OSError as exc:
        raise CommandError(f"{_show(path)}: cannot read ({exc.strerror or exc})") from None
    # (line number, content without comment) of every non-blank line.
    rows = [(number, content) for number, line in enumerate(re.split(r"\r\n?|\n", text), 1)
            if (content := line.split("#", 1)[0].strip())]
    if not rows:
        raise CommandError(f"{_show(path)}: empty file (no data rows)")
    header = None
    if not any(_number(field) for field in rows[0][1].split(",")):
        header, rows = rows[0], rows[1:]
        if not rows:
            raise CommandError(f"{_show(path)}: has a header row (line {header[0]}) but no "
                               "data rows")
    try:
        table = np.loadtxt([content for _, content in rows], delimiter=",", ndmin=2,
                           dtype=np.float64, comments=None)
    except ValueError as exc:
        _diagnose_csv(path, rows)
        raise CommandError(f"{_show(path)}: cannot read a numeric table "
                           f"({_one_line(exc)})") from None
    if header is not None and len(header[1].split(",")) != table.shape[1]:
        raise CommandError(f"{_show(path)}: the header (line {header[0]}) has "
                           f"{len(header[1].split(','))} fields but the data rows have "
                           f"{table.shape[1]}")
    _reject_non_finite(path, table, lambda row: f"line {rows[row][0]}")
    return table


def _diagnose_csv(path: str, rows: list[tuple[int, str]]) -> None:
    """Raise the ``CommandError`` for the first malformed line that NumPy's reader refused."""
    width = len(rows[0][1].split(","))
    for number, content in rows:
        fields = content.split(",")
        if len(fields) != width:
            raise CommandError(f"{_show(path)}: line {number} has {len(fields)} fields but "
                               f"line {rows[0][0]} has {width} (rows must have equal length)")
        for column, text in enumerate(fields, 1):
            if not text.strip():
                raise CommandError(f"{_show(path)}: line {number}, column {column} is empty")
            if not _number(text):
                raise CommandError(f"{_show(path)}: line {number}, column {column}: "
                                   f"{_field(text.strip())} is not a number")


def save_network(net: TwoLayerNet, path: str | Path) -> None:
    """Write a NumPy network to an ``.npz`` archive.

    Parameters
    ----------
    net : TwoLayerNet
        A network of NumPy arrays.
    path : str or Path
        The archive: ``W``, ``V``, ``negative_slope``, ``skip`` and, when present, ``b`` and
        ``c``.
    """
    arrays = {"W": net.W, "V": net.V, "negative_slope": np.float64(net.negative_slope),
              "skip": np.bool_(net.skip)}
    if net.b is not None:
        arrays["b"] = net.b
    if net.c is not None:
        arrays["c"] = net.c
    np.savez(path, **arrays)


def load_network(path: str) -> TwoLayerNet:
    """Read a network written by :func:`save_network` (``relu-altmin fit --out``).

    Parameters
    ----------
    path : str
        An ``.npz`` archive.

    Returns
    -------
    TwoLayerNet
        Its arrays as float64 NumPy arrays.

    Raises
    ------
    CommandError
        One line ``PATH: not a relu-altmin network (...)`` when the file is missing, is not
        an ``.npz`` archive, lacks an array or holds arrays that do not make a network.
    """
    file = _existing_file(path)
    if file.suffix.lower() != ".npz":
        raise CommandError(f"{_show(path)}: expected an .npz network written by "
                           f"`relu-altmin fit`, got {file.suffix or 'no extension'!r}")
    with _open_binary(path, file) as handle:
        magic = _magic(path, handle)
        if magic == NPY_MAGIC:
            raise CommandError(f"{_show(path)}: not a relu-altmin network (a .npy array, not "
                               "an .npz archive)")
        if magic != ZIP_MAGIC:
            raise CommandError(f"{_show(path)}: not a relu-altmin network (not an .npz "
                               f"archive{'' if magic else ': empty file'})")
        try:
            loaded = np.load(handle, allow_pickle=False)
        except Exception as exc:  # any parse failure of an arbitrary file is the user's input
            raise CommandError(f"{_show(path)}: not a relu-altmin network (not an .npz "
                               f"archive: {type(exc).__name__}: {_one_line(exc)})") from None
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise CommandError(f"{_show(path)}: not a relu-altmin network (a .npy array, not "
                               "an .npz archive)")
        try:
            with loaded as data:
                return _network_from(data)
        except Exception as exc:  # a damaged member fails in zipfile, zlib or NumPy's reader
            detail = _one_line(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
            raise CommandError(f"{_show(path)}: not a relu-altmin network "
                               f"({detail or type(exc).__name__})") from None


def _network_from(data: Any) -> TwoLayerNet:
    """The network in an open ``.npz`` archive; any exception means it holds none."""
    missing = [key for key in ("W", "V", "negative_slope", "skip") if key not in data]
    if missing:
        raise KeyError(f"missing {', '.join(missing)}")
    arrays = {key: data[key] for key in ("W", "b", "V", "c") if key in data}
    for key, value in arrays.items():
        if value.dtype.kind not in "iuf":
            raise TypeError(f"{key} has dtype {value.dtype}")
    arrays = {key: np.asarray(value, dtype=np.float64) for key, value in arrays.items()}
    slope, skip = data["negative_slope"], data["skip"]
    if slope.shape != () or slope.dtype.kind not in "iuf":
        raise ValueError(f"negative_slope must be a real scalar, got {slope!r}")
    if skip.shape != () or skip.dtype.kind != "b":
        raise ValueError(f"skip must be a bool scalar, got {skip!r}")
    return TwoLayerNet(arrays["W"], arrays.get("b"), arrays["V"], arrays.get("c"),
                       negative_slope=float(slope), skip=bool(skip))


def _check_output(path: str, option: str, suffixes: Sequence[str]) -> None:
    """Refuse, before any work, an output path that cannot be written or has a wrong type."""
    file = Path(path)
    if file.suffix.lower() not in suffixes:
        raise CommandError(f"{option} {_show(path)}: expected a file ending in "
                           f"{' or '.join(suffixes)}")
    if file.is_dir():
        raise CommandError(f"{option} {_show(path)}: is a directory")
    parent = file.parent
    if not parent.is_dir():
        raise CommandError(f"{option} {_show(path)}: directory {_show(parent)} does not exist")


def _write(path: str, option: str, writer: Callable[[], None]) -> None:
    """Run ``writer``; an ``OSError`` becomes a one-line error with exit status 1."""
    try:
        writer()
    except OSError as exc:
        raise CommandError(f"{option} {_show(path)}: cannot write ({exc.strerror or exc})",
                           EXIT_FAILURE) from None


# --------------------------------------------------------------------------------------------
# Progress


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


# --------------------------------------------------------------------------------------------
# Plots and JSON


def _plot_format(path: str) -> str:
    """Check, before any training, that ``--plot PATH`` can be written; return its format.

    matplotlib is imported here, lazily: it is not a dependency of ``relu-altmin``.
    """
    try:
        import matplotlib  # noqa: F401  (a cached submodule alone would hide its absence)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError:
        raise CommandError(f"--plot needs matplotlib, which is not installed: {PLOT_INSTALL}"
                           ) from None
    file = Path(path)
    fmt = file.suffix.lower().lstrip(".") or "png"
    supported = FigureCanvasAgg.get_supported_filetypes()
    if fmt not in supported:
        raise CommandError(f"--plot {_show(path)}: matplotlib cannot write {fmt!r} files; use "
                           f".png (or {', '.join('.' + f for f in sorted(supported))})")
    if file.is_dir():
        raise CommandError(f"--plot {_show(path)}: is a directory")
    if not file.parent.is_dir():
        raise CommandError(f"--plot {_show(path)}: directory {_show(file.parent)} does not "
                           "exist")
    return fmt


def save_loss_plot(path: str, curves: Sequence[tuple[str, Sequence[float], Sequence[float]]],
                   *, xlabel: str, title: str) -> None:
    """Save training MSE curves, log scale, as an image (PNG unless ``path`` says otherwise).

    Parameters
    ----------
    path : str
        The image; its extension picks the format (none: PNG).
    curves : sequence of (label, x, loss)
        One line each.
    xlabel, title : str
        Axis label of ``x`` and the title.
    """
    fmt = _plot_format(path)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positive = True
    for label, x, loss in curves:
        axes.plot(x, loss, marker="." if len(loss) <= 60 else None, label=label)
        positive = positive and min(loss, default=1.0) > 0
    if positive:
        axes.set_yscale("log")
    axes.set_xlabel(xlabel)
    axes.set_ylabel("training MSE" + (" (log scale)" if positive else ""))
    axes.set_title(title, fontsize="medium")
    axes.grid(True, which="both", alpha=0.3)
    if len(curves) > 1:
        axes.legend()
    _write(path, "--plot", lambda: figure.savefig(path, format=fmt))


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else "..." + text[-(limit - 3):]


def _plain(value: Any) -> Any:
    """``value`` as JSON-ready Python: NumPy scalars unwrapped, non-finite floats as None."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _print_json(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(_plain(document), allow_nan=False) + "\n")
    sys.stdout.flush()


def fit_summary(result: FitResult) -> dict[str, Any]:
    """The JSON form of a :class:`~relu_altmin.FitResult`, as ``--json`` prints it.

    Parameters
    ----------
    result : FitResult

    Returns
    -------
    dict
        ``loss`` (final training MSE), ``iterations``, ``stop_reason``, ``converged``,
        ``residuals`` (relative gradient norms), ``l2``, ``solver``, ``seconds`` (wall time of
        the run) and ``history``: one dict per :class:`~relu_altmin.IterationRecord`,
        iteration 0 first, so ``len(history) == iterations + 1``.
    """
    return {"loss": result.loss, "iterations": result.n_iter,
            "stop_reason": result.stop_reason, "converged": result.converged,
            "residuals": dict(result.residuals), "l2": result.l2, "solver": result.solver,
            "seconds": result.history[-1].seconds,
            "history": [dataclasses.asdict(record) for record in result.history]}


# --------------------------------------------------------------------------------------------
# Commands


def _training_data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, str]:
    """``X``, ``y`` (1-D for one target) and a description, from ``args.data``."""
    if args.data is None:
        X, y = load_diabetes()
        return X, y, "diabetes (embedded, standardised)"
    if args.targets is not None and args.n_targets != 1:
        raise CommandError("--n-targets is for targets inside DATA; with --targets every "
                           "column of the targets file is a target")
    table = read_table(args.data)
    if args.targets is not None:
        X, Y = table, read_table(args.targets)
        if Y.shape[0] != X.shape[0]:
            raise CommandError(f"{_show(args.targets)}: has {Y.shape[0]} rows but "
                               f"{_show(args.data)} has {X.shape[0]}")
    else:
        if table.shape[1] <= args.n_targets:
            raise CommandError(f"{_show(args.data)}: needs more than {args.n_targets} "
                               f"column(s) (the last {args.n_targets} are the target); it has "
                               f"{table.shape[1]}")
        X, Y = table[:, :-args.n_targets], table[:, -args.n_targets:]
    return X, (Y[:, 0] if Y.shape[1] == 1 else Y), _show(args.data)


def _describe(X: np.ndarray, y: np.ndarray, source: str) -> dict[str, Any]:
    return {"source": source, "n_samples": X.shape[0], "n_features": X.shape[1],
            "n_targets": 1 if y.ndim == 1 else y.shape[1]}


def _run_fit(X: np.ndarray, y: np.ndarray, args: argparse.Namespace,
             init: TwoLayerNet | None = None) -> FitResult:
    """``fit`` with the command's settings (from ``init`` if given), its progress on stderr
    unless ``--quiet``."""
    settings: dict[str, Any] = {
        "negative_slope": args.negative_slope, "max_iter": args.max_iter, "seed": args.seed,
        "step": args.step, "reinit": args.reinit, "solver": args.solver, "init": init,
        "skip": init is not None and init.skip, "standardize": args.standardize}
    if args.quiet:
        return fit(X, y, args.hidden, **settings)
    with Progress(args.max_iter, "fit") as bar:
        result = fit(X, y, args.hidden, callback=bar, **settings)
        bar.finish(result)
    return result


def _uninterrupted(result: FitResult) -> FitResult:
    """``result``, unless Ctrl-C ended it: then the ``KeyboardInterrupt`` goes on (status 130).
    Only ``relu-altmin fit`` keeps what an interrupted run trained."""
    if result.stop_reason == "interrupted":
        raise KeyboardInterrupt
    return result


def _warm_up(X: np.ndarray, y: np.ndarray, args: argparse.Namespace) -> None:
    """Compile the Numba kernels (seconds, once per installation: cached) before timing."""
    _uninterrupted(fit(X[:4], y[:4], 2, negative_slope=args.negative_slope, max_iter=1, seed=0,
                       step=args.step, solver=args.solver))


def _run_adam(X: np.ndarray, y: np.ndarray, args: argparse.Namespace, result: FitResult,
              rates: Sequence[float], epochs: int) -> dict[str, Any]:
    """Full-batch Adam from ``fit``'s start, one run per learning rate, and the comparison."""
    start = fit(X, y, args.hidden, negative_slope=args.negative_slope, seed=args.seed,
                max_iter=0, standardize=args.standardize).network
    runs: list[dict[str, Any]] = []
    for lr in rates:
        settings = {"method": "adam", "lr": lr, "epochs": epochs,
                    "negative_slope": args.negative_slope, "l2": result.l2, "init": start}
        if args.quiet:
            adam = train(X, y, args.hidden, **settings)
        else:
            with Progress(epochs, f"adam lr {lr:g}", every=max(1, epochs // 10),
                          unit="epoch") as bar:
                adam = train(X, y, args.hidden, callback=bar, **settings)
                bar.finish(adam)
        _uninterrupted(adam)
        runs.append({"lr": lr, "loss": adam.loss, "seconds": adam.history[-1].seconds,
                     "epochs": adam.n_iter, "stop_reason": adam.stop_reason,
                     "losses": [record.loss for record in adam.history],
                     "times": [record.seconds for record in adam.history]})
    best = min(runs, key=lambda run: run["loss"])
    reached = next((record for record in result.history if record.loss <= best["loss"]), None)
    return {"epochs": epochs, "runs": runs, "best_lr": best["lr"], "best_loss": best["loss"],
            "best_seconds": best["seconds"],
            "fit_seconds_to_best": None if reached is None else reached.seconds,
            "fit_iterations_to_best": None if reached is None else reached.iteration}


def _print_summary(result: FitResult) -> None:
    print(f"final training MSE {result.loss:.6g} after {result.n_iter} iterations "
          f"({result.stop_reason}, {result.history[-1].seconds:.2f} s)")
    print("critical-point residuals: "
          + ", ".join(f"{name} {value:.2e}" for name, value in result.residuals.items()))


def _print_reached(comparison: dict[str, Any], result: FitResult) -> None:
    if comparison["fit_seconds_to_best"] is None:
        print(f"  relu-altmin did not reach Adam's training MSE in {result.n_iter} iterations")
    else:
        print(f"  relu-altmin reached Adam's training MSE after "
              f"{comparison['fit_seconds_to_best']:.2f} s (iteration "
              f"{comparison['fit_iterations_to_best']})")


def cmd_demo(args: argparse.Namespace) -> None:
    """``relu-altmin demo``: fit the embedded diabetes data, then Adam from the same start."""
    if args.plot:
        _plot_format(args.plot)
    X, y = load_diabetes()
    if not args.json:
        print(f"diabetes data (embedded): {X.shape[0]} samples, {X.shape[1]} features, "
              f"standardised; {args.hidden} hidden units, negative slope "
              f"{args.negative_slope}")
    _warm_up(X, y, args)
    result = _uninterrupted(_run_fit(X, y, args))
    comparison = None if args.no_adam else _run_adam(X, y, args, result, DEMO_ADAM_RATES,
                                                     DEMO_ADAM_EPOCHS)
    if args.plot:
        save_loss_plot(args.plot, [("relu-altmin fit", [r.iteration for r in result.history],
                                    [r.loss for r in result.history])],
                       xlabel="iteration", title="relu-altmin demo\ndiabetes (embedded)")
    if args.json:
        _print_json({"command": "demo", "data": _describe(X, y, "diabetes (embedded)"),
                     "hidden": args.hidden, "negative_slope": args.negative_slope,
                     "seed": args.seed, "step": args.step, "reinit": args.reinit,
                     "fit": fit_summary(result),
                     "adam": comparison})
        return
    _print_summary(result)
    if comparison is None:
        return
    best = next(run for run in comparison["runs"] if run["lr"] == comparison["best_lr"])
    print(f"\nside by side, same start ({DEMO_ADAM_EPOCHS} full-batch Adam epochs, best of "
          f"learning rates {', '.join(f'{lr:g}' for lr in DEMO_ADAM_RATES)}):")
    print(f"  {'method':<22} {'training MSE':>12} {'seconds':>8}")
    print(f"  {'relu-altmin fit':<22} {result.loss:12.6g} {result.history[-1].seconds:8.2f}")
    name = f"Adam (lr {best['lr']:g})"
    print(f"  {name:<22} {best['loss']:12.6g} {best['seconds']:8.2f}")
    _print_reached(comparison, result)


def cmd_fit(args: argparse.Namespace) -> None:
    """``relu-altmin fit``: train on a table (from ``--init`` if given), write the network to
    ``--out``; Ctrl-C writes the network trained so far and ends with ``Interrupted``."""
    _check_output(args.out, "--out", (".npz",))
    if args.plot:
        _plot_format(args.plot)
    init = None if args.init is None else load_network(args.init)
    X, y, source = _training_data(args)
    if init is not None:
        _check_init(args, init, X, y)
    args.hidden = FIT_HIDDEN if args.hidden is None else args.hidden
    args.negative_slope = 0.0 if args.negative_slope is None else args.negative_slope
    result = _run_fit(X, y, args, init)
    _write(args.out, "--out", lambda: save_network(result.network, args.out))
    if args.plot:
        save_loss_plot(args.plot, [("relu-altmin fit", [r.iteration for r in result.history],
                                    [r.loss for r in result.history])],
                       xlabel="iteration", title=f"relu-altmin fit\n{_short(source)}")
    if args.json:
        _print_json({"command": "fit", "data": _describe(X, y, source), "hidden": args.hidden,
                     "negative_slope": args.negative_slope, "seed": args.seed,
                     "step": args.step, "reinit": args.reinit, **fit_summary(result),
                     "network": args.out})
    else:
        _print_summary(result)
        print(f"network written to {_show(args.out)}")
    if result.stop_reason == "interrupted":
        raise Interrupted(f"after {result.n_iter} iterations; the network trained so far "
                          f"(training MSE {result.loss:.6g}) was written to {_show(args.out)}")


def _check_init(args: argparse.Namespace, init: TwoLayerNet, X: np.ndarray,
                y: np.ndarray) -> None:
    """Refuse an ``--init`` network that does not fit the data or ``--hidden``; take
    ``--hidden`` and ``--negative-slope`` from it when they are not given."""
    where = f"--init {_show(args.init)}"
    k = 1 if y.ndim == 1 else y.shape[1]
    if init.n_features != X.shape[1]:
        raise CommandError(f"{where}: the network takes {init.n_features} features but the "
                           f"data has {X.shape[1]}")
    if init.n_outputs != k:
        raise CommandError(f"{where}: the network has {init.n_outputs} output(s) but the data "
                           f"has {k} target(s)")
    if args.hidden is not None and args.hidden != init.n_hidden:
        raise CommandError(f"{where}: the network has {init.n_hidden} hidden units, not "
                           f"--hidden {args.hidden}")
    args.hidden = init.n_hidden
    if args.negative_slope is None:
        args.negative_slope = init.negative_slope


def cmd_predict(args: argparse.Namespace) -> None:
    """``relu-altmin predict``: evaluate a saved network on a table."""
    if args.out is not None:
        _check_output(args.out, "--out", TEXT_SUFFIXES + ARRAY_SUFFIXES)
    net = load_network(args.network)
    X = read_table(args.data)
    if X.shape[1] != net.n_features:
        raise CommandError(f"{_show(args.data)}: has {X.shape[1]} columns but the network "
                           f"takes {net.n_features} features")
    predictions = net.predict(X)
    table = np.reshape(predictions, (X.shape[0], -1))
    if args.out is None:
        if args.json:
            _print_json({"command": "predict", "n_samples": X.shape[0],
                         "n_outputs": net.n_outputs, "predictions": predictions})
        else:
            np.savetxt(sys.stdout, table, delimiter=",", fmt="%.17g")
        return
    if Path(args.out).suffix.lower() in ARRAY_SUFFIXES:
        _write(args.out, "--out", lambda: np.save(args.out, predictions))
    else:
        _write(args.out, "--out",
               lambda: np.savetxt(args.out, table, delimiter=",", fmt="%.17g"))
    if args.json:
        _print_json({"command": "predict", "n_samples": X.shape[0],
                     "n_outputs": net.n_outputs, "out": args.out})


def cmd_bench(args: argparse.Namespace) -> None:
    """``relu-altmin bench``: ``fit`` against Adam over a learning-rate grid, same start."""
    if args.plot:
        _plot_format(args.plot)
    X, y, source = _training_data(args)
    if not args.json:
        print(f"data: {source}: {X.shape[0]} samples, {X.shape[1]} features, "
              f"{1 if y.ndim == 1 else y.shape[1]} target{'' if y.ndim == 1 else 's'}")
    _warm_up(X, y, args)
    result = _uninterrupted(_run_fit(X, y, args))
    comparison = _run_adam(X, y, args, result, args.lr, args.epochs)
    if args.plot:
        curves = [("relu-altmin fit", [r.seconds for r in result.history],
                   [r.loss for r in result.history])]
        curves += [(f"Adam lr {run['lr']:g}", run["times"], run["losses"])
                   for run in comparison["runs"]]
        save_loss_plot(args.plot, curves, xlabel="seconds",
                       title=f"relu-altmin bench, same start\n{_short(source)}")
    if args.json:
        _print_json({"command": "bench", "data": _describe(X, y, source),
                     "hidden": args.hidden, "negative_slope": args.negative_slope,
                     "seed": args.seed, "step": args.step, "reinit": args.reinit,
                     "fit": fit_summary(result),
                     "adam": comparison})
        return
    print(f"{args.hidden} hidden units, negative slope {args.negative_slope:g}, l2 "
          f"{result.l2:.3g}, all from the same start (seed {args.seed})\n")
    print(f"  {'method':<16} {'setting':<28} {'training MSE':>12} {'seconds':>8}")
    setting = f"{result.n_iter} iterations ({result.stop_reason})"
    print(f"  {'relu-altmin fit':<16} {setting:<28} "
          f"{result.loss:12.6g} {result.history[-1].seconds:8.2f}")
    for run in comparison["runs"]:
        mark = " *" if run["lr"] == comparison["best_lr"] else ""
        setting = f"lr {run['lr']:g}, {run['epochs']} epochs"
        print(f"  {'Adam':<16} {setting:<28} {run['loss']:12.6g} {run['seconds']:8.2f}{mark}")
    print(f"\n  * best Adam: lr {comparison['best_lr']:g}, training MSE "
          f"{comparison['best_loss']:.6g} in {comparison['best_seconds']:.2f} s")
    _print_reached(comparison, result)


# --------------------------------------------------------------------------------------------
# Parser and entry point


def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    parse.__name__ = "int"
    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if not 0.0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be finite and > 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``argparse`` parser of ``relu-altmin`` and its four commands.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="relu-altmin",
        description="Train two-layer ReLU-like networks by exact alternating least squares.",
        epilog="Exit status: 0 success, 1 an output file could not be written, 2 a bad "
               "command line or input file, 130 interrupted. See docs/cli.md.")
    parser.add_argument("--version", action="version", version=f"relu-altmin {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def training_options(p: argparse.ArgumentParser, hidden: int, slope: float) -> None:
        p.add_argument("--hidden", type=_int_at_least(1), default=hidden, metavar="H",
                       help=f"hidden units (default {hidden})")
        p.add_argument("--negative-slope", type=float, default=slope, metavar="A",
                       help=f"activation slope below 0, in [0, 1) (default {slope})")
        p.add_argument("--max-iter", type=_int_at_least(0), default=100, metavar="N",
                       help="most iterations (default 100)")
        p.add_argument("--seed", type=int, default=0, metavar="S",
                       help="initialisation seed (default 0)")
        p.add_argument("--step", choices=STEPS, default="joint",
                       help="hidden step: damped Gauss-Newton over both layers (joint, the "
                            "default), damped hidden layer alone (damped), or the paper's "
                            "undamped step (exact)")
        p.add_argument("--no-reinit", dest="reinit", action="store_false",
                       help="stop at the first stall instead of re-initialising the least useful "
                            "unit there (fit's reinit=False)")
        p.add_argument("--solver", choices=SOLVERS, default="auto",
                       help="hidden-step solver: dense, matrix-free conjugate gradients (cg), or "
                            "dense up to 500 unknowns (any for --step exact) while it fits in "
                            "1 GiB, else cg (auto, the default)")
        p.add_argument("--no-standardize", dest="standardize", action="store_false",
                       help="fit on the data as given instead of centring and scaling the "
                            "columns and targets inside fit (fit's standardize=False); the "
                            "network takes raw inputs either way")
        p.add_argument("--quiet", action="store_true",
                       help="no progress on standard error")

    def output_options(p: argparse.ArgumentParser, plot: str | None) -> None:
        p.add_argument("--json", action="store_true",
                       help="print one JSON document on standard output and nothing else")
        if plot is not None:
            p.add_argument("--plot", metavar="PATH", help=plot + " (needs matplotlib)")

    def data_options(p: argparse.ArgumentParser, optional: bool) -> None:
        p.add_argument("data", nargs="?" if optional else None,
                       help="CSV (optional header row) or .npy table; by default the last "
                            "column is the target"
                            + (" (default: the embedded diabetes data)" if optional else ""))
        p.add_argument("--targets", metavar="FILE",
                       help="targets in a separate CSV or .npy file")
        p.add_argument("--n-targets", type=_int_at_least(1), default=1, metavar="K",
                       help="number of trailing target columns in DATA (default 1)")

    fit_p = commands.add_parser("fit", help="train on a CSV or .npy table, write a .npz network",
                                description="Train on a table and write the network.")
    data_options(fit_p, optional=False)
    fit_p.add_argument("--out", default="network.npz", metavar="PATH",
                       help="the network, an .npz file (default network.npz)")
    fit_p.add_argument("--init", metavar="NETWORK",
                       help="continue from this network (an .npz written by fit); --hidden and "
                            "--negative-slope default to its own")
    training_options(fit_p, hidden=FIT_HIDDEN, slope=0.0)
    # None: not given; cmd_fit takes --init's values, else the defaults above.
    fit_p.set_defaults(hidden=None, negative_slope=None)
    output_options(fit_p, "save the training MSE per iteration (log scale) as PNG")
    fit_p.set_defaults(run=cmd_fit)

    predict = commands.add_parser("predict", help="predict with a network written by fit",
                                  description="Evaluate a network written by fit.")
    predict.add_argument("network", help=".npz written by `relu-altmin fit`")
    predict.add_argument("data", help="CSV or .npy table of inputs")
    predict.add_argument("--out", metavar="PATH",
                         help="write to .csv, .txt or .npy instead of standard output")
    output_options(predict, None)
    predict.set_defaults(run=cmd_predict)

    demo = commands.add_parser("demo", help="train on the embedded diabetes data",
                               description="Train on the embedded diabetes data, then compare "
                                           "with full-batch Adam from the same start.")
    training_options(demo, hidden=32, slope=0.1)
    demo.add_argument("--no-adam", action="store_true",
                      help="skip the side-by-side against full-batch Adam")
    output_options(demo, "save the training MSE per iteration (log scale) as PNG")
    demo.set_defaults(run=cmd_demo)

    bench = commands.add_parser(
        "bench", help="compare fit with full-batch Adam over a learning-rate grid",
        description="Train with fit and with full-batch Adam (relu_altmin.baselines, one run "
                    "per learning rate) from the same start; report training MSE, seconds "
                    "and when fit reaches Adam's best MSE.")
    data_options(bench, optional=True)
    training_options(bench, hidden=32, slope=0.1)
    bench.add_argument("--lr", type=_positive_float, nargs="+", default=list(DEMO_ADAM_RATES),
                       metavar="LR", help="Adam learning rates (default "
                       + " ".join(f"{lr:g}" for lr in DEMO_ADAM_RATES) + ")")
    bench.add_argument("--epochs", type=_int_at_least(0), default=DEMO_ADAM_EPOCHS, metavar="E",
                       help=f"full-batch Adam epochs per rate (default {DEMO_ADAM_EPOCHS})")
    output_options(bench, "save training MSE against seconds (log scale), every run, as PNG")
    bench.set_defaults(run=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``relu-altmin`` with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name.

    Returns
    -------
    int
        0 on success, 1 when an output could not be written (or memory ran out), 2 for bad
        input (``argparse`` exits with 2 itself for a bad command line), 130 on Ctrl-C.
    """
    args = build_parser().parse_args(argv)
    prefix = f"relu-altmin {args.command}: error:"
    try:
        with warnings.catch_warnings():  # an interrupted run is reported below, in one line
            warnings.simplefilter("ignore", FitInterrupted)
            args.run(args)
    except Interrupted as exc:
        print(f"relu-altmin {args.command}: interrupted {_one_line(exc)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except CommandError as exc:
        print(f"{prefix} {_one_line(exc)}", file=sys.stderr)
        return exc.status
    except (ValueError, TypeError) as exc:  # fit's validation of the settings
        print(f"{prefix} {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        print(f"{prefix} out of memory (try fewer --hidden units or --solver cg)",
              file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"relu-altmin {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `relu-altmin predict ... | head`
        sys.stderr.close()
        return EXIT_OK
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
