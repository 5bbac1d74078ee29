"""The asv suite (asv_bench/benchmarks) runs: every benchmark method on its smallest case."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

SUITE = Path(__file__).resolve().parents[1] / "asv_bench" / "benchmarks" / "fit.py"


def test_every_benchmark_runs_and_tracks_a_finite_mse(monkeypatch):
    spec = importlib.util.spec_from_file_location("asv_fit", SUITE)
    assert spec is not None and spec.loader is not None
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    monkeypatch.setattr(suite, "MAX_ITER", 2)
    bench = suite.Fit()
    names = [name for name in dir(bench) if name.split("_")[0] in ("time", "peakmem", "track")]
    assert {"time_fit", "peakmem_fit", "track_train_mse"} <= set(names)
    for l2 in bench.params[1]:
        case = suite.CASES[0]
        bench.setup(case, l2)
        try:
            for name in names:
                value = getattr(bench, name)(case, l2)
                assert value is None or (math.isfinite(value) and value > 0)
        finally:
            bench.teardown(case, l2)
