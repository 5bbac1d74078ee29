"""Shared test set-up: the backend fixture and the hypothesis profiles.

The CUDA kernels run under Numba's CUDA simulator unless an NVIDIA GPU is present; the
variable must be set before numba is first imported, so it is done here at collection.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

if "NUMBA_ENABLE_CUDASIM" not in os.environ and shutil.which("nvidia-smi") is None:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Deterministic in CI; `HYPOTHESIS_PROFILE=dev` explores new examples on every run, and
# `HYPOTHESIS_PROFILE=thorough` many more (below).
settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=25, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "dev", deadline=None, max_examples=100,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# Outside CI, random seeds and many examples (docs/design.md §5): 200 per property, 15 200
# across tests/test_properties.py's 76 parametrised properties on the CPU backends.
settings.register_profile(
    "thorough", derandomize=False, deadline=None, max_examples=200, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: The repository's benchmarks: scripts (``<name>.py``) and the packages they import
#: (``harness``, ``<name>_parts``), with ``benchmarks/`` as their import root.
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def benchmarks_on_path() -> None:
    """Put ``benchmarks/`` on ``sys.path``: ``import harness``, ``training_parts`` and the
    other benchmark packages then resolve, as they do for the scripts."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))


def benchmark_script(stem: str, module_name: str | None = None) -> ModuleType:
    """``benchmarks/<stem>.py`` loaded by path as module ``module_name`` (default ``stem``).

    ``benchmarks/`` goes on ``sys.path`` first (:func:`benchmarks_on_path`), so that the
    script's imports of the harness and of its parts resolve; a name of its own keeps
    ``kernels.py`` apart from the package ``relu_altmin.kernels``.
    """
    benchmarks_on_path()
    spec = importlib.util.spec_from_file_location(module_name or stem, BENCHMARKS / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def usable_cupy():
    """Return the cupy module when a CUDA device really works, else None."""
    try:
        import cupy

        cupy.zeros(1).sum().item()
    except Exception:  # ImportError, CUDARuntimeError, missing driver: all mean "no GPU".
        return None
    return cupy


BACKENDS = ["numpy", "array_api_strict", "torch", "cupy"]


@pytest.fixture(params=BACKENDS)
def xp(request):
    """The array namespace under test; CuPy skips where no usable GPU exists."""
    name = request.param
    if name == "numpy":
        from array_api_compat import numpy as xp_np

        return xp_np
    if name == "array_api_strict":
        return pytest.importorskip("array_api_strict")
    if name == "torch":
        pytest.importorskip("torch")
        from array_api_compat import torch as xp_torch

        return xp_torch
    cupy = usable_cupy()
    if cupy is None:
        pytest.skip("cupy: no usable CUDA device on this machine")
    from array_api_compat import cupy as xp_cupy

    return xp_cupy


def to_numpy(a) -> np.ndarray:
    """Copy any backend's array to a NumPy array (tests only)."""
    if hasattr(a, "detach"):  # torch
        return a.detach().cpu().numpy()
    if hasattr(a, "get"):  # cupy
        return a.get()
    return np.asarray(a)
