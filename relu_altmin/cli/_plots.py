"""``--plot``: training MSE curves as an image, with matplotlib imported lazily."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ._errors import CommandError, _show
from ._files import _write

#: The pip command that provides ``--plot``.
PLOT_INSTALL = 'pip install matplotlib (or pip install "relu-altmin[plot]")'


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
