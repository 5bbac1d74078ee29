"""The convergence experiments give the same results on any array-API namespace.

Their ``--full`` runs are meant for CuPy on a GPU, which CI does not have. ``array_api_strict``
refuses whatever lies outside the array API (mixing its arrays with NumPy's, NumPy-only
functions and methods), so a script that runs on it with the same numbers as on NumPy runs
on CuPy too. Each script runs at a small size on both namespaces, in its own process, and
every number it writes must agree up to rounding on the scale of the curve it belongs to.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

EXPERIMENTS = Path(__file__).resolve().parents[1] / "benchmarks" / "experiments"
# Small sizes: each script takes a few seconds, most of it imports.
SMALL = {
    "teacher_recovery": ["--d", "5", "--ks", "2", "3", "--ratios", "1", "2", "--trials", "2",
                         "--iters", "5", "--epochs", "50"],
    "skip_connections": ["--d", "5", "--ns", "100", "200", "--trials", "2", "--iters", "5",
                         "--epochs", "50", "--n-test", "100"],
    "identity_mapping": ["--d", "5", "--n", "1000", "--epochs", "3", "--iters", "3"],
    "momentum_overparam": ["--n", "10", "--d", "3", "--m", "50", "--epochs", "20",
                           "--widths", "20", "100"],
}
# Keys whose values depend on the machine or the run, not on the arithmetic.
UNCOMPARED = {"machine", "args", "seconds"}
# float64 arithmetic in another order of summation: a few hundred roundings of each value.
RTOL = 1e3 * float(np.finfo(np.float64).eps)


def run(script: str, backend: str, out: Path) -> dict[str, Any]:
    subprocess.run([sys.executable, str(EXPERIMENTS / f"{script}.py"), "--backend", backend,
                    "--out", str(out), *SMALL[script]], check=True, capture_output=True)
    return json.loads((out / f"{script}.json").read_text())


def compared(record: dict[str, Any]) -> dict[str, Any]:
    """The entries of a record that depend on the arithmetic alone."""
    return {k: v for k, v in record.items() if k not in UNCOMPARED and "seconds" not in k}


def scale(value: Any) -> float:
    """Largest finite magnitude of the floats in ``value``, nested: the rounding scale of a
    curve (a list) or of a record's single numbers (a dict)."""
    if isinstance(value, dict):
        value = list(compared(value).values())
    if isinstance(value, list):
        return max((scale(v) for v in value), default=0.0)
    return abs(value) if isinstance(value, float) and math.isfinite(value) else 0.0


def differences(a: Any, b: Any, where: str, ref: float) -> list[str]:
    """Paths where ``a`` and ``b`` differ by more than ``RTOL`` times ``ref`` (or exactly,
    for anything but floats)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{where}: keys {sorted(a)} against {sorted(b)}"]
        ref = max(scale(a), scale(b))
        return [d for k in compared(a) for d in differences(a[k], b[k], f"{where}.{k}", ref)]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: length {len(a)} against {len(b)}"]
        ref = max(scale(a), scale(b))
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in differences(x, y, f"{where}[{i}]", ref)]
    if isinstance(a, float) and isinstance(b, float):
        if math.isfinite(a) and math.isfinite(b):
            close = abs(a - b) <= RTOL * max(abs(a), abs(b), ref)
        else:
            close = (math.isnan(a) and math.isnan(b)) or a == b
        return [] if close else [f"{where}: {a!r} against {b!r}"]
    return [] if a == b else [f"{where}: {a!r} against {b!r}"]


@pytest.mark.parametrize("script", sorted(SMALL))
def test_experiment_same_on_strict_array_api(script: str, tmp_path: Path) -> None:
    reference = run(script, "numpy", tmp_path / "numpy")
    strict = run(script, "array_api_strict", tmp_path / "strict")
    assert strict["args"]["backend"] == "array_api_strict"
    assert differences(reference, strict, script, 0.0) == []
