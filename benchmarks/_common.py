"""Machine and version facts every benchmark writes beside its results."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform


def _cpu_model() -> str:
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


def machine_info() -> dict:
    """CPU, core count, GPU (if CuPy sees one), Python and package versions, and the date."""
    gpu = None
    try:
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        gpu = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    except Exception:  # no CuPy, no driver or no device: all mean "no GPU"
        gpu = None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "gpu": gpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {name.replace("-", "_"): _version(name) for name in (
            "relu-altmin", "numpy", "numba", "numba-cuda", "array-api-compat", "torch",
            "scipy", "scikit-learn", "cupy-cuda12x")},
    }
