"""The pass/fail rules the benchmark scripts print follow the issues' targets.

A benchmark's verdict is code too: here the GPU kernel target of ``benchmarks/kernels.py`` is
checked against its rule for any timings, cells off the target and cells missing a backend,
and the training benchmark's time ratios between runs of different days are marked.
"""

from __future__ import annotations

import json
import math

import pytest
from conftest import benchmark_script, benchmarks_on_path
from hypothesis import assume, given
from hypothesis import strategies as st

# The repository's kernels/ folder is the package relu_altmin.kernels: the script gets a
# name of its own.
kernel_benchmark = benchmark_script("kernels", "kernel_benchmark")

seconds = st.floats(1e-6, 1e3, allow_nan=False, allow_infinity=False)
slopes = st.sampled_from([0.0, 0.01, 0.1, 0.5])
dtypes = st.sampled_from(["float32", "float64"])


def cell(slope, dtype, backends, **shape):
    return dict(kernel_benchmark.GPU_TARGET, **shape, slope=slope, dtype=dtype,
                backends={name: {"seconds": t} for name, t in backends.items()})


# ReLU: the CUDA kernel strictly faster than cuBLAS; leaky: at most twice cuBLAS's time.
@given(seconds, seconds, slopes, dtypes)
def test_gpu_target_follows_the_issue_rule(cuda, cublas, slope, dtype):
    (check,) = kernel_benchmark.gpu_target_checks(
        [cell(slope, dtype, {"cuda": cuda, "cupy-blas": cublas, "numba": 1.0})])
    expected = cuda < cublas if slope == 0 else cuda <= 2 * cublas
    assert check["pass"] is expected
    assert (check["slope"], check["dtype"]) == (slope, dtype)
    assert check["speedup"] == cublas / cuda


# Only the target cell with both GPU backends counts.
@given(seconds, seconds, slopes, dtypes, st.sampled_from(["n", "h", "d"]),
       st.sampled_from(["cuda", "cupy-blas"]))
def test_gpu_target_ignores_other_cells(cuda, cublas, slope, dtype, key, missing):
    other = cell(slope, dtype, {"cuda": cuda, "cupy-blas": cublas},
                 **{key: kernel_benchmark.GPU_TARGET[key] // 2})
    partial = cell(slope, dtype, {name: t for name, t in (("cuda", cuda), ("cupy-blas", cublas))
                                  if name != missing})
    assert kernel_benchmark.gpu_target_checks([other, partial]) == []


# The kernel report warns exactly when the load before the run exceeded half the cores.
@given(load=st.floats(0.0, 64.0, allow_nan=False), cores=st.integers(1, 64))
def test_kernel_report_warns_on_a_busy_machine(load, cores, tmp_path_factory):
    machine = {"date": "today", "cpu": "cpu", "cores": cores, "numba_threads": cores,
               "threading_layer": "omp", "versions": {}, "loadavg_start": (load, 0.0, 0.0),
               "loadavg_end": (0.0, 0.0, 0.0)}
    path = tmp_path_factory.mktemp("report") / "kernels.md"
    kernel_benchmark.write_markdown({"machine": machine, "results": [], "skipped": []}, path)
    busy = load > kernel_benchmark.BUSY_LOAD_FRACTION * cores
    assert ("Busy machine" in path.read_text()) is busy
    assert (kernel_benchmark.busy_warning(machine) is not None) is busy


# --------------------------------------------------------------------------------------------
# The training benchmark (benchmarks/training_parts/): time ratios between runs of different
# days are marked.

benchmarks_on_path()
from training_parts import checks, driver, settings  # noqa: E402
from training_parts import markdown as training_markdown  # noqa: E402
from training_parts import runs as training_runs  # noqa: E402

days = st.sampled_from(["2026-11-24", "2026-11-25"])


def training_run(method, seed, day, train_mse=1.0, seconds=1.0):
    trace = [(0.0, 2.0), (seconds, train_mse)]
    return training_runs.Run("data", 16, 0.1, seed, method, train_mse, 1.0, seconds, trace,
                        info={"day": day, "target_variance": 1.0})


# The Adam target: a speed-up is marked exactly when, for some seed, altmin's run and the
# best Adam run come from different days; the loss verdicts do not depend on days.
@given(st.lists(st.tuples(days, days, days), min_size=1, max_size=3))
def test_adam_speedups_across_days_are_marked(seed_days):
    runs = []
    for seed, (a, adam, sgd) in enumerate(seed_days):
        runs += [training_run("altmin", seed, a, 0.5), training_run("torch_adam_full", seed, adam),
                 training_run("torch_sgd_full", seed, sgd, 2.0)]
    driver.annotate(runs)
    check = checks.target_check(runs)
    (cell,) = check["cells"]
    mixed = any(a != adam for a, adam, _ in seed_days)
    assert cell["across_days"] is mixed
    assert cell["loss_win"]
    text = "\n".join(training_markdown.check_lines(check))
    assert (settings.ACROSS_DAYS_MARK in text) is mixed


# The cost columns agree with the speed-up: when every iteration of altmin takes the same
# time, it is at least 10x sooner than Adam exactly when the iteration at which it reaches
# Adam's MSE is within the iterations that fit in a tenth of Adam's time.
@given(adam_seconds=st.floats(0.1, 100.0), per_iteration=st.floats(1e-3, 1.0),
       iterations=st.integers(1, 200), data=st.data())
def test_iteration_budget_agrees_with_the_speedup(adam_seconds, per_iteration, iterations,
                                                  data):
    reached = data.draw(st.one_of(st.integers(1, iterations), st.none()), label="reached")
    losses = [2.0 if reached is None or i < reached else 0.5 for i in range(iterations + 1)]
    trace = [(i * per_iteration, loss) for i, loss in enumerate(losses)]
    altmin = training_runs.Run("data", 16, 0.1, 0, "altmin", losses[-1], 1.0,
                          iterations * per_iteration, trace,
                          info={"day": "2026-11-25", "iterations": iterations})
    runs = [altmin, training_run("torch_adam_full", 0, "2026-11-25", seconds=adam_seconds),
            training_run("torch_sgd_full", 0, "2026-11-25", 2.0)]
    driver.annotate(runs)
    (cell,) = checks.target_check(runs)["cells"]
    assert cell["seconds_per_iteration"] == pytest.approx(per_iteration)
    assert cell["iterations_to_adam"] == (math.inf if reached is None else reached)
    assume(abs(cell["iterations_to_adam"] / cell["budget_iterations"] - 1.0) > 1e-6)
    assert (cell["speedup"] >= 10) is (cell["iterations_to_adam"] < cell["budget_iterations"])


# The L-BFGS target: the time comparison is marked exactly when some seed's altmin run and
# the better L-BFGS run come from different days.
@given(st.lists(st.tuples(days, days), min_size=1, max_size=3))
def test_lbfgs_times_across_days_are_marked(seed_days):
    runs = []
    for seed, (a, lbfgs) in enumerate(seed_days):
        runs += [training_run("altmin", seed, a, 0.5),
                 training_run("torch_lbfgs_conv", seed, lbfgs)]
    check = checks.lbfgs_check(runs)
    mixed = any(a != lbfgs for a, lbfgs in seed_days)
    assert check["cells"][0]["altmin"]["altmin"]["across_days"] is mixed
    text = "\n".join(training_markdown.lbfgs_check_lines(check))
    assert (settings.ACROSS_DAYS_MARK in text) is mixed


# Merging keeps each run's recorded day and gives older runs their file's date.
@given(recorded=days, file_day=days)
def test_merge_keeps_the_day_of_each_run(recorded, file_day, tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    old = training_run("altmin", 0, recorded).__dict__ | {"info": {}}
    new = training_run("torch_adam_full", 0, recorded).__dict__
    for name, run in (("old", old), ("new", new)):
        report = {"machine": {"date": f"{file_day} 12:00 UTC"},
                  "config": {"total_seconds": 1.0}, "runs": [run]}
        (folder / f"{name}.json").write_text(json.dumps(report))
    runs, _ = training_runs.load_runs([folder / "old.json", folder / "new.json"])
    got = {r.method: r.info["day"] for r in runs}
    assert got == {"altmin": file_day, "torch_adam_full": recorded}
