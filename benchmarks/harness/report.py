"""The one report writer: ``<name>.json``, ``<name>.md`` and ``<name>.png`` in ``--out``.

A script hands :func:`write_report` its record, its Markdown and its plotting function;
``--from-json`` hands the committed record to :func:`rebuild`, and the same Markdown and plots
come back without running anything. :func:`table` writes a Markdown table, :func:`pyplot` and
:func:`save_figure` are the start and the end of every plot.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from .args import report_name
from .record import dumps, load

Plot = Callable[[list[dict[str, Any]], Path], None]


def write_report(out: Path, name: str, report: dict[str, Any], markdown: str,
                 plot: Plot | None, *, indent: int = 1, newline: bool = True) -> None:
    """Write ``<name>.json`` (``report``), ``<name>.md`` and ``<name>.png`` in ``out``.

    Parameters
    ----------
    out : Path
        The folder (made if missing).
    name : str
        The file stem.
    report : dict
        The record; its ``runs`` are what ``plot`` draws.
    markdown : str
        The Markdown text.
    plot : callable or None
        ``plot(report["runs"], path)``; None writes no PNG.
    indent, newline
        The JSON's layout (:func:`harness.record.dumps`).
    """
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(dumps(report, indent, newline))
    rewrite(out, name, report, markdown, plot, quiet=True)
    print(f"wrote {out / name}.json, .md" + (" and .png" if plot else ""))


def rewrite(out: Path, name: str, report: dict[str, Any], markdown: str, plot: Plot | None,
            *, quiet: bool = False) -> None:
    """Write ``<name>.md`` and ``<name>.png`` (not the JSON) in ``out``: ``--from-json``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.md").write_text(markdown)
    if plot is not None:
        plot(report["runs"], out / f"{name}.png")
    if not quiet:
        print(f"wrote {out / name}.md" + (" and .png" if plot else ""))


def rebuild(args: Any, markdown: Callable[[dict[str, Any]], str], plot: Plot | None) -> str:
    """``--from-json``: rewrite the report of the record ``args.from_json`` without running.

    ``<name>.json`` in ``--out`` becomes a byte copy of the record (unless it is that file),
    then :func:`rewrite` writes the Markdown and the plot.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options of :func:`harness.args.parent` (``--out``, ``--name``,
        ``--from-json``, ``--no-plot``).
    markdown : callable
        The script's Markdown of a whole record.
    plot : callable or None
        The script's plot of the record's runs.

    Returns
    -------
    str
        The Markdown written.
    """
    name = report_name(args, "")
    report = {**load(args.from_json), "name": name}  # the plot the Markdown links is <name>.png
    text = markdown(report)
    args.out.mkdir(parents=True, exist_ok=True)
    copy = args.out / f"{name}.json"
    if not copy.exists() or not copy.samefile(args.from_json):
        shutil.copyfile(args.from_json, copy)
    rewrite(args.out, name, report, text, None if args.no_plot else plot)
    return text


def table(header: Sequence[str], align: str, rows: Iterable[Sequence[Any]]) -> list[str]:
    """A Markdown table's lines.

    Parameters
    ----------
    header : sequence of str
        The column titles.
    align : str
        One letter a column: ``l`` (``---``), ``r`` (``---:``), ``c`` (``:--:``) or ``L``
        (``:--``).
    rows : iterable of sequences
        The cells, formatted with ``str``.
    """
    rule = {"l": "---", "r": "---:", "c": ":--:", "L": ":--"}
    return ["| " + " | ".join(header) + " |", "|" + "|".join(rule[a] for a in align) + "|",
            *("| " + " | ".join(str(c) for c in row) + " |" for row in rows)]


def fmt(value: float | None, spec: str = ".4g") -> str:
    """``value`` formatted with ``spec``; ``-`` for None or NaN, ``diverged`` for inf."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "diverged"
    return format(value, spec)


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path, dpi: int = 120, *, tight: bool = True) -> None:
    """The tail of every plot: lay ``fig`` out, write it to ``path`` and close it."""
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
