"""Reading input tables (CSV, ``.npy``), reading and writing ``.npz`` networks, and
checking and writing output files, each failure one ``CommandError`` line."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from .._model import TwoLayerNet
from ._errors import EXIT_FAILURE, CommandError, _one_line, _show

#: File types ``read_table`` reads: comma-separated text, or a NumPy ``.npy`` array.
TEXT_SUFFIXES = (".csv", ".txt")
ARRAY_SUFFIXES = (".npy",)


def _field(text: str, limit: int = 30) -> str:
    """A CSV field quoted for a message, shortened if long."""
    return repr(text if len(text) <= limit else text[:limit] + "...")



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
