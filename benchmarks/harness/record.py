"""The run record: the machine, the versions and the day a result was made, and its JSON.

Every script's JSON holds ``machine`` (:func:`machine_info`) beside its configuration and runs;
``machine["date"]`` stamps the process, :func:`day_stamp` the day of each run (kept through
merges of runs made on different days).
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
from pathlib import Path
from typing import Any

#: Where the scripts write their results by default.
RESULTS = Path(__file__).resolve().parents[1] / "results"
#: The packages whose versions a record keeps (distribution names).
PACKAGES = ("relu-altmin", "numpy", "numba", "numba-cuda", "array-api-compat", "torch",
            "scipy", "scikit-learn", "cupy-cuda12x", "cupy-cuda13x")


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``, else what ``platform`` says)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def gpu_name() -> str | None:
    """The name of CUDA device 0 when CuPy sees one, else None."""
    try:
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        return props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    except Exception:  # no CuPy, no driver or no device: all mean "no GPU"
        return None


def machine_info() -> dict[str, Any]:
    """The machine a result was made on.

    Returns
    -------
    dict
        ``date`` (UTC, to the minute), ``cpu``, ``cores``, ``gpu`` (None without one),
        ``platform``, ``python`` and ``versions`` (of :data:`PACKAGES`, ``-`` as ``_``).
    """
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "gpu": gpu_name(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {name.replace("-", "_"): _version(name) for name in PACKAGES},
    }


def day_stamp() -> str:
    """Today (UTC) as ``YYYY-MM-DD``: the day a run was made."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")


def json_default(value: Any) -> Any:
    """``json.dumps``'s fallback: NumPy scalars as Python numbers."""
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(report: dict[str, Any], indent: int | None = 1, newline: bool = True) -> str:
    """``report`` as the JSON text the scripts write (NumPy scalars allowed).

    Parameters
    ----------
    report : dict
        The record.
    indent : int or None
        JSON indentation (1; 2 for the scripts that have always written 2; None: one line).
    newline : bool
        Whether the text ends in a newline.
    """
    return json.dumps(report, indent=indent, default=json_default) + ("\n" if newline else "")


def load(path: Path | str) -> dict[str, Any]:
    """A record written by a script (``--from-json``'s input)."""
    return json.loads(Path(path).read_text())
